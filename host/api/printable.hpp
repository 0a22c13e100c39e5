// Text for a dry run's record: cut to `limit` bytes, invalid UTF-8 replaced, so the record
// can always be written out as JSON. Thread-safe: a pure function.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cronhost::api {

inline std::string printable(std::string_view text, size_t limit = std::string_view::npos) {
  const nlohmann::json value = std::string(text.substr(0, limit));
  return nlohmann::json::parse(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).get<std::string>();
}

}  // namespace cronhost::api
