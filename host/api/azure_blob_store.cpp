#include "api/azure_blob_store.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <pugixml.hpp>

#include "api/azure_shared_key.hpp"
#include "api/storage_parts.hpp"
#include "util/base64.hpp"
#include "util/percent.hpp"

namespace cronhost::api {
namespace {

std::string http_date_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buffer;
}

class AzureBlobStore final : public ObjectStore {
 public:
  AzureBlobStore(const config::StorageSettings& settings, StorageTransfer& transfer)
      : settings_(settings), az_(settings.azure), transfer_(transfer) {}

  Result<PutOutcome> put(const std::string& key, const PutSource& source, const PutOptions& options) override {
    if (source.fd >= 0 && source.size > settings_.multipart_threshold) return put_blocks(key, source, options);
    // One Put Blob, hashed on the way and checked against the MD5 the service computed (and
    // stores with the blob): a mismatch deletes the blob.
    Md5 sent;
    Headers headers = {{"x-ms-blob-type", "BlockBlob"}};
    add_blob_headers(headers, options);
    StorageBody body = source.fd < 0 ? StorageBody{-1, 0, 0, source.bytes} : StorageBody{source.fd, 0, source.size, {}};
    body.digest = &sent;
    auto answered = send("PUT", key, "", std::move(headers), body);
    if (!answered) return Status::error(answered.message());
    const std::string ours = base64_encode(sent.digest());
    if (const std::string stored = answered->header("content-md5"); !stored.empty() && stored != ours) {
      (void)remove(key);
      return Status::error("PUT " + key + ": the service's MD5 " + stored + " is not that of the bytes sent (" + ours +
                           "); the blob was deleted");
    }
    return PutOutcome{source.total(), 1};
  }

  Result<uint64_t> get(const std::string& key, int fd) override {
    Md5 received;
    auto answered = send("GET", key, "", {}, {}, fd, &received);
    if (!answered) return Status::error(answered.message());
    // The blob's MD5, when it was stored with one (Put Blob, or x-ms-blob-content-md5).
    if (const std::string stored = answered->header("content-md5"); !stored.empty() && base64_encode(received.digest()) != stored)
      return Status::error("GET " + key + ": the download's MD5 is not the blob's " + stored);
    return answered->downloaded;
  }

  Result<std::vector<ObjectInfo>> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    for (std::string marker;;) {
      std::string query = "comp=list";
      if (!marker.empty()) query += "&marker=" + percent_encoded(marker);
      query += "&maxresults=1000&prefix=" + percent_encoded(prefix) + "&restype=container";
      auto answered = send("GET", std::nullopt, query, {});
      if (!answered) return Status::error(answered.message());
      pugi::xml_document doc;
      if (!doc.load_buffer(answered->body.data(), answered->body.size()) || !doc.child("EnumerationResults"))
        return Status::error("list '" + prefix + "': the answer is not an EnumerationResults document");
      const pugi::xml_node results = doc.child("EnumerationResults");
      for (const pugi::xml_node blob : results.child("Blobs").children("Blob")) {
        const pugi::xml_node properties = blob.child("Properties");
        out.push_back({blob.child_value("Name"), std::strtoull(properties.child_value("Content-Length"), nullptr, 10),
                       parse_store_time(properties.child_value("Last-Modified"))});
      }
      const std::string next = results.child_value("NextMarker");
      if (next.empty()) return out;
      if (next == marker) return Status::error("list '" + prefix + "': the store answered the same page twice");
      if (out.size() > kMaxListed)
        return Status::error("list '" + prefix + "': more than " + std::to_string(kMaxListed) + " objects; give a longer prefix");
      marker = next;
    }
  }

  Status remove(const std::string& key) override {
    auto answered = signed_perform(request("DELETE", key, "", {}), "DELETE " + key);
    if (!answered) return Status::error(answered.message());
    if (answered->status / 100 != 2 && answered->status != 404)
      return Status::error("DELETE " + key + ": " + store_error(answered->status, answered->body, answered->header("x-ms-error-code")));
    return Status::ok();
  }

 private:
  // The container's URL, or a blob's; with the SAS appended when the store uses one.
  std::string url(const std::optional<std::string>& key, const std::string& query) const {
    std::string out = az_.endpoint + "/" + az_.container;
    if (key) out += "/" + encoded_key(*key);
    std::string q = query;
    if (!az_.sas.empty()) q += (q.empty() ? "" : "&") + az_.sas;
    return q.empty() ? out : out + "?" + q;
  }

  StorageRequest request(std::string method, const std::optional<std::string>& key, const std::string& query,
                         Headers headers, StorageBody body = {}, int download_fd = -1, Md5* download_digest = nullptr) const {
    StorageRequest r;
    r.method = std::move(method);
    r.url = url(key, query);
    r.headers = std::move(headers);
    r.headers.emplace_back("x-ms-date", http_date_now());
    r.headers.emplace_back("x-ms-version", kAzureBlobVersion);
    if (r.method == "PUT") r.headers.emplace_back("content-length", std::to_string(body.size()));
    r.body = body;
    r.download_fd = download_fd;
    r.download_digest = download_digest;
    return r;
  }

  static void add_blob_headers(Headers& headers, const PutOptions& options) {
    headers.emplace_back("x-ms-blob-content-type", options.content_type);
    for (const auto& [name, value] : options.metadata) headers.emplace_back("x-ms-meta-" + name, value);
  }

  // Signed with the Shared Key (a SAS is in the URL already) and sent; any status.
  Result<StorageResponse> signed_perform(StorageRequest r, const std::string& what) {
    if (!az_.key.empty()) {
      auto authorization = shared_key_authorization(r.method, az_.account, az_.key, r.url, r.headers);
      if (!authorization) return Status::error(what + ": " + authorization.message());
      r.headers.emplace_back("authorization", authorization.value());
    }
    auto answered = transfer_.perform(r);
    if (!answered) return Status::error(what + ": " + answered.message());
    return answered;
  }

  // Signed, sent, and refused unless 2xx.
  Result<StorageResponse> send(std::string method, const std::optional<std::string>& key, const std::string& query,
                               Headers headers, StorageBody body = {}, int download_fd = -1, Md5* download_digest = nullptr) {
    const std::string what = method + " " + (key ? *key : "the container listing");
    auto answered = signed_perform(request(method, key, query, std::move(headers), body, download_fd, download_digest), what);
    if (!answered) return answered;
    if (answered->status / 100 != 2)
      return Status::error(what + ": " + store_error(answered->status, answered->body, answered->header("x-ms-error-code")));
    return answered;
  }

  Result<PutOutcome> put_blocks(const std::string& key, const PutSource& source, const PutOptions& options) {
    const std::vector<PartRange> parts = plan_parts(source.size, settings_.part_size, 50'000);
    // The parts are hashed one after another, so the whole blob's MD5 comes with them: stored
    // with the blob, a download is checked against it.
    Md5 whole;
    std::string block_list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    auto sent = send_hashed_parts(source.fd, parts, &whole, [&](size_t i, PartRange part, const std::string& md5) {
      // Block ids: base64 of equal-length text, as the service requires within a blob.
      char id_text[16];
      std::snprintf(id_text, sizeof id_text, "block-%06zu", i);
      const std::string id = base64_encode(id_text);
      auto answered = send("PUT", key, "blockid=" + percent_encoded(id) + "&comp=block",
                           {{"content-md5", base64_encode(md5)}}, {source.fd, part.offset, part.length, {}});
      if (!answered)
        return Status::error(answered.message() + " (block " + std::to_string(i + 1) + " of " + std::to_string(parts.size()) + ")");
      block_list += "<Latest>" + id + "</Latest>";
      return Status::ok();
    });
    if (!sent) return Status::error(sent.message());
    block_list += "</BlockList>";
    Headers headers = {{"content-md5", base64_encode(md5_of_bytes(block_list))},
                       {"x-ms-blob-content-md5", base64_encode(whole.digest())}};
    add_blob_headers(headers, options);
    auto committed = send("PUT", key, "comp=blocklist", std::move(headers), {-1, 0, 0, block_list});
    if (!committed) return Status::error(committed.message());
    return PutOutcome{source.size, static_cast<int>(parts.size())};
  }

  const config::StorageSettings& settings_;
  const config::AzureBlobSettings& az_;
  StorageTransfer& transfer_;
};

}  // namespace

std::unique_ptr<ObjectStore> make_azure_blob_store(const config::StorageSettings& settings, StorageTransfer& transfer) {
  return std::make_unique<AzureBlobStore>(settings, transfer);
}

}  // namespace cronhost::api
