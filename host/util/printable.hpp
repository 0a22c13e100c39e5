// Text from a script or a server made safe to show: at most `limit` bytes, invalid UTF-8
// replaced (U+FFFD), so that JSON output and logs stay valid.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cronhost {

inline std::string printable(std::string_view text, size_t limit = std::string_view::npos) {
  const nlohmann::json value = std::string(text.substr(0, limit));
  return nlohmann::json::parse(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).get<std::string>();
}

}  // namespace cronhost
