// One request to an object store over libcurl, with the body streamed: uploads read from a
// file range (pread, so a part can be sent while another is hashed) or from memory, downloads
// of a successful response go straight into a file. Nothing the size of an object is ever
// held in memory. TLS verified; bounded by the run's deadline and stopped when it is
// cancelled. S3 requests are signed by libcurl's AWS SigV4; others carry their own
// Authorization header. One per run, not thread-safe: connections are reused within it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "api/http_client.hpp"
#include "api/storage_parts.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct StorageBody {
  int fd = -1;             // read from this file at offset..offset+length, or
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string_view bytes;  // these bytes (fd < 0)
  Md5* digest = nullptr;   // fed with the body as it is sent, when given
  uint64_t size() const { return fd >= 0 ? length : bytes.size(); }
};

struct StorageRequest {
  std::string method = "GET";
  std::string url;   // path and query already encoded as they are signed
  Headers headers;   // names in lower case
  StorageBody body;  // PUT and POST only
  int download_fd = -1;  // a 2xx response's body is written here (else kept, up to 8 MiB)
  Md5* download_digest = nullptr;  // fed with what is written to download_fd, when given
  // S3: "aws:amz:REGION:s3" and the key pair libcurl signs with.
  std::string aws_sigv4, access_key, secret_key;
};

struct StorageResponse {
  long status = 0;
  Headers headers;         // names in lower case
  std::string body;        // an error's text, a listing's XML; not a download
  uint64_t downloaded = 0;  // bytes written to download_fd
  std::string header(std::string_view name) const;
};

class StorageTransfer {
 public:
  StorageTransfer(std::string ca_file, std::chrono::steady_clock::time_point deadline, std::function<bool()> cancelled);
  ~StorageTransfer();
  StorageTransfer(const StorageTransfer&) = delete;
  StorageTransfer& operator=(const StorageTransfer&) = delete;

  // A response for every HTTP status; an error only when none arrived (refused, reset, TLS,
  // the deadline, cancelled, a local read or write that failed), saying only that: the
  // caller names the request.
  Result<StorageResponse> perform(const StorageRequest& request);

 private:
  std::string ca_file_;
  std::chrono::steady_clock::time_point deadline_;
  std::function<bool()> cancelled_;
  CURL* curl_ = nullptr;
};

}  // namespace cronhost::api
