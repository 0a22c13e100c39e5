#include "server/http_json.hpp"

#include <charconv>

#include "util/time_format.hpp"

namespace cronhost::server {

void reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // Replace: invalid UTF-8 from a run's output must not throw while answering.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

std::string error_code_for(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "bad_request";
  }
}

void reply_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  reply(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

std::optional<nlohmann::json> read_object(const httplib::Request& req, httplib::Response& res) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    reply_error(res, 400, "invalid_json", "the request body is not valid JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    reply_error(res, 400, "bad_request", "the request body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

std::optional<int64_t> query_int(const httplib::Request& req, httplib::Response& res, const char* name,
                                 int64_t fallback, int64_t min, int64_t max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    reply_error(res, 400, "bad_request",
                std::string(name) + "=" + text + ": expected a whole number from " + std::to_string(min) + " to " +
                    std::to_string(max));
    return std::nullopt;
  }
  return value;
}

nlohmann::json time_json(std::optional<int64_t> ms) {
  if (!ms) return nullptr;
  return format_rfc3339(Instant(std::chrono::seconds(*ms / 1000)), 0);
}

}  // namespace cronhost::server
