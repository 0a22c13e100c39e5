// JSON in and out of the admin API: replies, errors as {"error": {"code", "message"}}, and
// request bodies and query parameters read with a 400 naming what was wrong.
#pragma once
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cronhost::server {

void reply(httplib::Response& res, int status, const nlohmann::json& body);
void reply_error(httplib::Response& res, int status, const std::string& code, const std::string& message);
// The status's usual code name: 404 -> "not_found".
std::string error_code_for(int status);

// The body as a JSON object; an empty body reads as {}. Replies 400 and returns nothing when
// it is not JSON or not an object.
std::optional<nlohmann::json> read_object(const httplib::Request& req, httplib::Response& res);

// A whole-number query parameter within [min, max]; `fallback` when absent. Replies 400 and
// returns nothing when it is not such a number.
std::optional<int64_t> query_int(const httplib::Request& req, httplib::Response& res, const char* name,
                                 int64_t fallback, int64_t min, int64_t max);

// Unix milliseconds as RFC 3339 in UTC; null for nothing.
nlohmann::json time_json(std::optional<int64_t> ms);

}  // namespace cronhost::server
