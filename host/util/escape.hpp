// A value written between double quotes in a text format that escapes with backslashes
// (Prometheus label values, MySQL option files): backslash, quote and newline escaped.
#pragma once
#include <string>
#include <string_view>

namespace cronhost {

inline std::string backslash_escaped(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace cronhost
