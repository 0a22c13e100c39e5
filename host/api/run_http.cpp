#include "api/run_http.hpp"

#include "api/permissions.hpp"
#include "util/printable.hpp"
#include "util/http_header.hpp"

namespace cronhost::api {
namespace {

constexpr size_t kCapturedBodyBytes = 2048;

}  // namespace

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
