#include "api/s3_store.hpp"

#include <optional>
#include <pugixml.hpp>

#include "api/storage_parts.hpp"
#include "util/base64.hpp"
#include "util/percent.hpp"

namespace cronhost::api {
namespace {

class S3Store final : public ObjectStore {
 public:
  S3Store(const config::StorageSettings& settings, StorageTransfer& transfer)
      : settings_(settings), s3_(settings.s3), transfer_(transfer) {}

  Result<PutOutcome> put(const std::string& key, const PutSource& source, const PutOptions& options) override {
    if (source.fd >= 0 && source.size > settings_.multipart_threshold) return put_multipart(key, source, options);
    // One request, hashed on the way (no pass over the file before the first byte is sent)
    // and checked against the MD5 the store computed: a mismatch deletes the object.
    Md5 sent;
    StorageRequest request = make("PUT", key, "");
    add_object_headers(request, options);
    request.body = source.fd < 0 ? StorageBody{-1, 0, 0, source.bytes} : StorageBody{source.fd, 0, source.size, {}};
    request.body.digest = &sent;
    auto answered = expect(request, "PUT " + key);
    if (!answered) return Status::error(answered.message());
    if (const auto stored = etag_md5(answered.value())) {
      const std::string ours = hex_of(sent.digest());
      if (*stored != ours) {
        (void)remove(key);
        return Status::error("PUT " + key + ": the store's MD5 " + *stored + " is not that of the bytes sent (" + ours +
                             "); the object was deleted");
      }
    }
    return PutOutcome{source.total(), 1};
  }

  Result<uint64_t> get(const std::string& key, int fd) override {
    Md5 received;
    StorageRequest request = make("GET", key, "");
    request.download_fd = fd;
    request.download_digest = &received;
    auto answered = expect(request, "GET " + key);
    if (!answered) return Status::error(answered.message());
    if (const auto stored = etag_md5(answered.value()); stored && hex_of(received.digest()) != *stored)
      return Status::error("GET " + key + ": the download's MD5 is not the object's " + *stored);
    return answered->downloaded;
  }

  Result<std::vector<ObjectInfo>> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    for (std::string token;;) {
      // Parameters sorted and encoded: libcurl signs the query as it is written.
      std::string query = token.empty() ? "" : "continuation-token=" + percent_encoded(token) + "&";
      query += "list-type=2&max-keys=1000&prefix=" + percent_encoded(prefix);
      StorageRequest request = make("GET", "", query);
      auto answered = expect(request, "list '" + prefix + "'");
      if (!answered) return Status::error(answered.message());
      pugi::xml_document doc;
      if (!doc.load_buffer(answered->body.data(), answered->body.size()) || !doc.child("ListBucketResult"))
        return Status::error("list '" + prefix + "': the answer is not a ListBucketResult document");
      const pugi::xml_node result = doc.child("ListBucketResult");
      for (const pugi::xml_node item : result.children("Contents"))
        out.push_back({item.child_value("Key"), std::strtoull(item.child_value("Size"), nullptr, 10),
                       parse_store_time(item.child_value("LastModified"))});
      const std::string next = result.child_value("NextContinuationToken");
      if (std::string_view(result.child_value("IsTruncated")) != "true" || next.empty()) return out;
      if (next == token) return Status::error("list '" + prefix + "': the store answered the same page twice");
      if (out.size() > kMaxListed)
        return Status::error("list '" + prefix + "': more than " + std::to_string(kMaxListed) + " objects; give a longer prefix");
      token = next;
    }
  }

  Status remove(const std::string& key) override {
    StorageRequest request = make("DELETE", key, "");
    auto answered = transfer_.perform(request);
    if (!answered) return Status::error("DELETE " + key + ": " + answered.message());
    if (answered->status / 100 != 2 && answered->status != 404)
      return Status::error("DELETE " + key + ": " + store_error(answered->status, answered->body));
    return Status::ok();
  }

 private:
  std::string url(const std::string& key, const std::string& query) const {
    std::string base = s3_.endpoint;
    if (s3_.path_style) {
      base += "/" + s3_.bucket;
    } else {
      const size_t host = base.find("://") + 3;
      base.insert(host, s3_.bucket + ".");
    }
    std::string out = base + "/" + encoded_key(key);
    if (!query.empty()) out += "?" + query;
    return out;
  }

  StorageRequest make(std::string method, const std::string& key, const std::string& query) const {
    StorageRequest request;
    request.method = std::move(method);
    request.url = url(key, query);
    request.headers.emplace_back("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    request.aws_sigv4 = "aws:amz:" + s3_.region + ":s3";
    request.access_key = s3_.access_key;
    request.secret_key = s3_.secret_key;
    return request;
  }

  // The object's MD5 (hex) when its ETag is one: a single-part upload's, unless the object is
  // encrypted with KMS or a customer key (a multipart upload's has a "-N" suffix).
  static std::optional<std::string> etag_md5(const StorageResponse& response) {
    const std::string encryption = response.header("x-amz-server-side-encryption");
    if ((!encryption.empty() && encryption != "AES256") ||
        !response.header("x-amz-server-side-encryption-customer-algorithm").empty())
      return std::nullopt;
    std::string etag = response.header("etag");
    if (etag.size() == 34 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, 32);
    if (etag.size() != 32 || etag.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
    return etag;
  }

  static void add_object_headers(StorageRequest& request, const PutOptions& options) {
    request.headers.emplace_back("content-type", options.content_type);
    for (const auto& [name, value] : options.metadata) request.headers.emplace_back("x-amz-meta-" + name, value);
  }

  // The response when its status is 2xx and (S3 answers some failures with 200) no <Error>.
  Result<StorageResponse> expect(const StorageRequest& request, const std::string& what) {
    auto answered = transfer_.perform(request);
    if (!answered) return Status::error(what + ": " + answered.message());
    if (answered->status / 100 != 2 || answered->body.rfind("<Error>") != std::string::npos)
      return Status::error(what + ": " + store_error(answered->status, answered->body));
    return answered;
  }

  Result<PutOutcome> put_multipart(const std::string& key, const PutSource& source, const PutOptions& options) {
    StorageRequest start = make("POST", key, "uploads=");
    add_object_headers(start, options);
    auto started = expect(start, "POST " + key + " (start a multipart upload)");
    if (!started) return Status::error(started.message());
    pugi::xml_document doc;
    doc.load_buffer(started->body.data(), started->body.size());
    const std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (upload_id.empty()) return Status::error("POST " + key + ": the answer holds no UploadId");

    auto sent = send_parts(key, upload_id, source);
    if (!sent) {
      abort_upload(key, upload_id);
      return Status::error(sent.message());
    }
    std::string body = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < sent->size(); ++i)
      body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + (*sent)[i] + "</ETag></Part>";
    body += "</CompleteMultipartUpload>";
    StorageRequest complete = make("POST", key, "uploadId=" + percent_encoded(upload_id));
    complete.headers.emplace_back("content-type", "application/xml");
    complete.body.bytes = body;
    if (auto done = expect(complete, "POST " + key + " (complete the multipart upload)"); !done) {
      abort_upload(key, upload_id);
      return Status::error(done.message());
    }
    return PutOutcome{source.size, static_cast<int>(sent->size())};
  }

  // Each part's ETag, for the completion.
  Result<std::vector<std::string>> send_parts(const std::string& key, const std::string& upload_id, const PutSource& source) {
    const std::vector<PartRange> parts = plan_parts(source.size, settings_.part_size);
    std::vector<std::string> etags;
    auto sent = send_hashed_parts(source.fd, parts, nullptr, [&](size_t i, PartRange part, const std::string& md5) {
      const std::string number = std::to_string(i + 1);
      StorageRequest request = make("PUT", key, "partNumber=" + number + "&uploadId=" + percent_encoded(upload_id));
      request.headers.emplace_back("content-md5", base64_encode(md5));
      request.body = {source.fd, part.offset, part.length, {}};
      auto answered = expect(request, "PUT " + key + " part " + number + " of " + std::to_string(parts.size()));
      if (!answered) return Status::error(answered.message());
      std::string etag = answered->header("etag");
      etags.push_back(etag.empty() ? "\"" + hex_of(md5) + "\"" : etag);
      return Status::ok();
    });
    if (!sent) return Status::error(sent.message());
    return etags;
  }

  void abort_upload(const std::string& key, const std::string& upload_id) {
    (void)transfer_.perform(make("DELETE", key, "uploadId=" + percent_encoded(upload_id)));
  }

  const config::StorageSettings& settings_;
  const config::S3Settings& s3_;
  StorageTransfer& transfer_;
};

}  // namespace

std::unique_ptr<ObjectStore> make_s3_store(const config::StorageSettings& settings, StorageTransfer& transfer) {
  return std::make_unique<S3Store>(settings, transfer);
}

}  // namespace cronhost::api
