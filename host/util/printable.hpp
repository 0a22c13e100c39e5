// Text from a script or a server made safe to show: at most `limit` bytes, invalid UTF-8
// replaced (U+FFFD), so that JSON output and logs stay valid.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cronhost {

inline std::string printable(std::string_view text, size_t limit = std::string_view::npos) {
  const nlohmann::json value = std::string(text.substr(0, limit));
  return nlohmann::json::parse(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).get<std::string>();
}

// True when `text` is valid UTF-8 holding no NUL: what a server takes as text. Anything else
// is bytes (a Lua string is either).
inline bool is_text(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    const size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    if (length > 1) {  // overlong forms, surrogates and code points past U+10FFFF are not UTF-8
      uint32_t code = c & (0x7F >> length);
      for (size_t k = 1; k < length; ++k) code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      static constexpr uint32_t kLeast[] = {0, 0, 0x80, 0x800, 0x10000};
      if (code < kLeast[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace cronhost
