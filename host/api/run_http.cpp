#include "api/run_http.hpp"

#include <algorithm>
#include <cctype>

#include "api/permissions.hpp"
#include "util/printable.hpp"
#include "util/http_header.hpp"

namespace cronhost::api {
namespace {

constexpr size_t kCapturedBodyBytes = 2048;

}  // namespace

Status HttpRequestFields::apply(HttpRequest& request) const {
  request.method = method;
  for (auto& c : request.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::vector<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (std::find(kMethods.begin(), kMethods.end(), request.method) == kMethods.end())
    return Status::error("method '" + request.method + "' is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  if (json_body) {
    if (has_body) return Status::error("give body or json, not both");
    request.body = *json_body;
    const bool typed = std::any_of(request.headers.begin(), request.headers.end(), [](const auto& h) {
      std::string name = h.first;
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return name == "content-type";
    });
    if (!typed) request.headers.emplace_back("Content-Type", "application/json");
  }
  if (timeout) {
    if (!(*timeout > 0)) return Status::error("field 'timeout' must be a number of seconds above 0");
    request.timeout = std::chrono::milliseconds(static_cast<int64_t>(std::min(*timeout, 86400.0) * 1000));
  }
  if (max_bytes) {
    if (!(*max_bytes >= 1)) return Status::error("field 'max_bytes' must be 1 or more");
    request.max_bytes = static_cast<size_t>(std::min(*max_bytes, 1e12));
  }
  return Status::ok();
}

Result<std::string> RunHttp::check(const HttpRequest& request) const { return check_http(job_, request.url); }

Result<RunHttpAnswer> RunHttp::perform(HttpRequest request, const std::string& url) {
  for (const auto& [name, value] : request.headers)  // checked in a dry run too, which sends nothing
    if (auto ok = check_request_header(name, value); !ok) return Status::error("http: " + ok.message());
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (!effects_.live() && (!read || effects_.offline())) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : request.headers) headers[printable(name)] = redactor_.apply(printable(value));
    const std::string body = redactor_.apply(printable(request.body, kCapturedBodyBytes));
    effects_.capture({"http",
                      request.method + " " + redactor_.apply(url) +
                          (request.body.empty() ? "" : " (" + std::to_string(request.body.size()) + " bytes)"),
                      {{"method", request.method}, {"url", redactor_.apply(url)}, {"headers", headers}, {"body", body}}});
    if (read) return Status::error(request.method + " " + url + ": not performed (offline dry run)");
    return RunHttpAnswer{HttpResponse{200, {}, "", url}, true};
  }
  auto response = client_().perform(std::move(request), [this](std::string_view next) { return check_http(job_, next); });
  if (!response) return Status::error(response.message());
  return RunHttpAnswer{std::move(response).value(), false};
}

}  // namespace cronhost::api
