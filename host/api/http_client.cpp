#include "api/http_client.hpp"

#include <algorithm>
#include <curl/curl.h>
#include <memory>
#include <mutex>

#include "api/curl_common.hpp"

namespace cronhost::api {
namespace {

struct Transfer {
  HttpResponse response;
  size_t max_bytes = 0;
  bool too_large = false;
  const std::function<bool()>* cancelled = nullptr;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response.body.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

bool same_origin(const std::string& a, const std::string& b) {
  const auto origin = [](const std::string& url) {
    const size_t host = url.find("://");
    return url.substr(0, url.find('/', host == std::string::npos ? 0 : host + 3));
  };
  return origin(a) == origin(b);
}

std::string size_text(size_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1 << 10) && bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string resolve_url(const std::string& base, const std::string& relative) {
  CURLU* url = curl_url();
  std::string out = relative;
  char* text = nullptr;
  if (curl_url_set(url, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(url, CURLUPART_URL, relative.c_str(), 0) == CURLUE_OK &&
      curl_url_get(url, CURLUPART_URL, &text, 0) == CURLUE_OK) {
    out = text;
    curl_free(text);
  }
  curl_url_cleanup(url);
  return out;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return {};
}

HttpClient::HttpClient(const config::HttpSettings& settings, std::chrono::steady_clock::time_point deadline,
                       std::function<bool()> cancelled)
    : settings_(settings), deadline_(deadline), cancelled_(std::move(cancelled)) {
  ensure_curl_initialized();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
}

Result<HttpResponse> HttpClient::perform(HttpRequest request, const UrlCheck& check_url) {
  if (!curl_) return Result<HttpResponse>::error("cannot start libcurl");
  // Every caller's headers (scripts, plugins, registered jobs): libcurl sends them verbatim.
  for (const auto& [name, value] : request.headers)
    if (auto ok = check_request_header(name, value); !ok) return Result<HttpResponse>::error("http: " + ok.message());
  auto url = check_url(request.url);
  if (!url) return Result<HttpResponse>::error(url.message());
  std::string current = url.value();
  for (int hop = 0;; ++hop) {
    auto response = perform_once(request, current);
    if (!response) return response;
    const long status = response->status;
    const std::string location = response->header("location");
    if (status < 300 || status > 399 || status == 304 || location.empty()) return response;
    if (hop >= settings_.max_redirects)
      return Result<HttpResponse>::error("more than " + std::to_string(settings_.max_redirects) +
                                         " redirects, the last to " + location);
    auto next = check_url(resolve_url(current, location));
    if (!next) return Result<HttpResponse>::error("redirect from " + current + ": " + next.message());
    // As browsers do: 303 (and 301/302 after a POST) continue as GET without a body; 307/308 repeat the request.
    if (status == 303 || ((status == 301 || status == 302) && request.method == "POST")) {
      request.method = "GET";
      request.body.clear();
    }
    if (!same_origin(current, next.value()))  // credentials stay with the origin they were meant for
      request.headers.erase(std::remove_if(request.headers.begin(), request.headers.end(),
                                           [](const auto& h) {
                                             std::string name = h.first;
                                             std::transform(name.begin(), name.end(), name.begin(), ::tolower);
                                             return name == "authorization" || name == "cookie";
                                           }),
                            request.headers.end());
    current = next.value();
  }
}

Result<HttpResponse> HttpClient::perform_once(const HttpRequest& request, const std::string& url) {
  using namespace std::chrono;
  // Rounded up: a transfer clipped to the deadline ends at or after it, never a millisecond
  // before, so the run is then seen as past its deadline (timed out), not as having succeeded.
  const auto left = ceil<milliseconds>(deadline_ - steady_clock::now());
  if (left.count() <= 0) return Result<HttpResponse>::error(request.method + " " + url + ": the run's deadline has passed");
  const auto timeout = std::min(request.timeout, left);

  Transfer transfer;
  transfer.max_bytes = request.max_bytes ? std::min(request.max_bytes, settings_.max_response_bytes)
                                         : settings_.max_response_bytes;
  transfer.cancelled = &cancelled_;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers)
    headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH")
    headers.reset(curl_slist_append(headers.release(), "Expect:"));  // no 100-continue round trip

  CURL* c = curl_;
  start_request(c, url, timeout.count(), settings_.ca_file.string(), headers.get(), on_body, transfer);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // any encoding curl can decode
  if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else if (request.method != "GET") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  const CURLcode code = curl_easy_perform(c);
  const std::string what = request.method + " " + url + ": ";
  if (transfer.too_large)
    return Result<HttpResponse>::error(what + "the response is larger than " + size_text(transfer.max_bytes));
  if (code == CURLE_ABORTED_BY_CALLBACK) return Result<HttpResponse>::error(what + "the run was cancelled");
  if (code == CURLE_OPERATION_TIMEDOUT)
    return Result<HttpResponse>::error(what + "timed out after " + std::to_string(timeout.count()) + " ms");
  if (code != CURLE_OK) return Result<HttpResponse>::error(what + curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  transfer.response.url = url;
  return std::move(transfer.response);
}

}  // namespace cronhost::api
