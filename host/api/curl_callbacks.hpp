// libcurl callbacks both HTTP clients (api/http_client, api/storage_transfer) use, over any
// transfer state that has `response.headers` (name, value pairs) and `cancelled` (a pointer to
// a std::function<bool()>). Header-only; each transfer is its own thread's.
#pragma once
#include <curl/curl.h>
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

}  // namespace cronhost::api
