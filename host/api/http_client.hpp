// HTTP(S) over libcurl for one run: TLS verified, redirects followed by hand so every hop
// passes the job's allowlist, responses capped, each request bounded by the run's deadline
// and stopped when the run is cancelled. One handle per run so connections are reused.
// Not thread-safe: belongs to the run's thread.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config/host_config.hpp"
#include "util/status.hpp"

typedef void CURL;

namespace cronhost::api {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  size_t max_bytes = 0;  // 0: the host's limit
};

struct HttpResponse {
  long status = 0;
  Headers headers;  // names in lower case, in arrival order
  std::string body;
  std::string url;  // after redirects

  // The first header of that (lower-case) name, or "".
  std::string header(std::string_view name) const;
};

class HttpClient {
 public:
  // Approves (and may normalize) every URL before it is requested, redirects too.
  using UrlCheck = std::function<Result<std::string>(std::string_view url)>;

  HttpClient(const config::HttpSettings& settings, std::chrono::steady_clock::time_point deadline,
             std::function<bool()> cancelled);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // A response for every HTTP status; an error only when none arrived (refused, DNS, TLS,
  // timeout, too large, not allowed).
  Result<HttpResponse> perform(HttpRequest request, const UrlCheck& check_url);

 private:
  Result<HttpResponse> perform_once(const HttpRequest& request, const std::string& url);

  const config::HttpSettings& settings_;
  std::chrono::steady_clock::time_point deadline_;
  std::function<bool()> cancelled_;
  CURL* curl_ = nullptr;
};

// libcurl's process-wide setup, done once before the first handle.
void ensure_curl_initialized();

// `relative` resolved against `base` (a Location header, a Link target).
std::string resolve_url(const std::string& base, const std::string& relative);

}  // namespace cronhost::api
