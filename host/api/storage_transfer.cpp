#include "api/storage_transfer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <curl/curl.h>
#include <memory>
#include <unistd.h>

#include "api/curl_common.hpp"

namespace cronhost::api {
namespace {

// A listing page (1,000 keys of up to 1 KiB each, with their XML) fits; an error page surely.
constexpr size_t kMaxKeptBody = size_t{8} << 20;

struct Transfer {
  CURL* curl = nullptr;
  const StorageRequest* request = nullptr;
  StorageResponse response;
  uint64_t sent = 0;      // of the body
  std::string io_error;   // a local read or write that failed
  const std::function<bool()>* cancelled = nullptr;
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const StorageBody& body = t->request->body;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size * count, body.size() - t->sent));
  if (want == 0) return 0;
  if (body.fd < 0) {
    std::memcpy(buffer, body.bytes.data() + t->sent, want);
    if (body.digest) body.digest->update(buffer, want);
    t->sent += want;
    return want;
  }
  const ssize_t got = ::pread(body.fd, buffer, want, static_cast<off_t>(body.offset + t->sent));
  if (got <= 0) {  // the file shrank or failed under us: never send a short body as if whole
    t->io_error = got == 0 ? "the file ended early (it changed during the upload)" : std::strerror(errno);
    return CURL_READFUNC_ABORT;
  }
  if (body.digest) body.digest->update(buffer, static_cast<size_t>(got));
  t->sent += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

// libcurl rewinds the body when it must send it again (a redirect, a reused connection that closed).
// A body being hashed on the way can only start over.
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  const StorageBody& body = t->request->body;
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > body.size()) return CURL_SEEKFUNC_FAIL;
  if (body.digest) {
    if (offset != 0) return CURL_SEEKFUNC_CANTSEEK;
    body.digest->reset();
  }
  t->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->download_fd >= 0 && status >= 200 && status <= 299) {
    for (size_t done = 0; done < n;) {
      const ssize_t wrote = ::write(t->request->download_fd, data + done, n - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) {
        t->io_error = std::strerror(errno);
        return 0;
      }
      done += static_cast<size_t>(wrote);
    }
    if (t->request->download_digest) t->request->download_digest->update(data, n);
    t->response.downloaded += n;
    return n;
  }
  if (t->response.body.size() + n > kMaxKeptBody) {
    t->io_error = "the answer is larger than 8 MiB";
    return 0;
  }
  t->response.body.append(data, n);
  return n;
}

}  // namespace

std::string StorageResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return {};
}

StorageTransfer::StorageTransfer(std::string ca_file, std::chrono::steady_clock::time_point deadline,
                                 std::function<bool()> cancelled)
    : ca_file_(std::move(ca_file)), deadline_(deadline), cancelled_(std::move(cancelled)) {
  ensure_curl_initialized();
  curl_ = curl_easy_init();
}

StorageTransfer::~StorageTransfer() {
  if (curl_) curl_easy_cleanup(curl_);
}

Result<StorageResponse> StorageTransfer::perform(const StorageRequest& request) {
  using namespace std::chrono;
  if (!curl_) return Status::error("cannot start libcurl");
  if (cancelled_()) return Status::error("the run was cancelled");
  // Rounded up, as in HttpClient: a transfer clipped to the deadline ends at or after it.
  const auto left = ceil<milliseconds>(deadline_ - steady_clock::now());
  if (left.count() <= 0) return Status::error("the run's deadline has passed");

  Transfer transfer;
  transfer.curl = curl_;
  transfer.request = &request;
  transfer.cancelled = &cancelled_;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers)
    headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));

  CURL* c = curl_;
  start_request(c, request.url, left.count(), ca_file_, headers.get(), on_body, transfer);
  // A store that stops answering mid-transfer is given up after 60 s of under 1 byte/s.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(c, CURLOPT_USERNAME, request.access_key.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, request.secret_key.c_str());
  }
  if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);  // libcurl's largest: fewer reads and sends
    if (request.method == "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode code = curl_easy_perform(c);
  if (!transfer.io_error.empty()) return Status::error(transfer.io_error);
  if (code == CURLE_ABORTED_BY_CALLBACK) return Status::error("the run was cancelled");
  if (code == CURLE_OPERATION_TIMEDOUT)
    return Status::error(steady_clock::now() >= deadline_ ? "stopped at the run's deadline" : curl_easy_strerror(code));
  if (code != CURLE_OK) return Status::error(curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  return std::move(transfer.response);
}

}  // namespace cronhost::api
