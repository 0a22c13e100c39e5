// The libcurl setup both HTTP clients (api/http_client, api/storage_transfer) share, over any
// transfer state that has `response.headers` (name, value pairs) and `cancelled` (a pointer to
// a std::function<bool()>). Header-only; each transfer is its own thread's.
#pragma once
#include <algorithm>
#include <cstdint>
#include <curl/curl.h>
#include <string>
#include <string_view>
#include <utility>

#include "util/http_header.hpp"

namespace cronhost::api {

// CURLOPT_HEADERFUNCTION: headers in lower case, in arrival order; a new status line (the
// response after 100 Continue, or after a redirect hop) starts the list over.
template <class Transfer>
size_t collect_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();
  } else if (auto header = parse_header_line(line)) {
    t->response.headers.push_back(std::move(*header));
  }
  return n;
}

// CURLOPT_XFERINFOFUNCTION: non-zero aborts the transfer once the run is cancelled.
template <class Transfer>
int stop_when_cancelled(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return (*static_cast<Transfer*>(user)->cancelled)() ? 1 : 0;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// `c` reset (its connection cache kept, so later requests reuse connections) and set up for
// one request: http(s) only, bounded by `timeout_ms` (connecting by at most 10 s of it), TLS
// verified against `ca_file` (empty: the system's CAs), its headers, body into `on_body`,
// headers and cancellation through `transfer`.
template <class Transfer>
void start_request(CURL* c, const std::string& url, int64_t timeout_ms, const std::string& ca_file,
                   const curl_slist* headers, curl_write_callback on_body, Transfer& transfer) {
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeout_ms, 10'000)));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cronhost/0.1");
  if (!ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header<Transfer>);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_when_cancelled<Transfer>);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
}

}  // namespace cronhost::api
