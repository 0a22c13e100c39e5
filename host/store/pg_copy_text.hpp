// One field of PostgreSQL's COPY text format (what COPY ... FROM STDIN reads by default):
// NULL is \N, and a backslash, tab, newline or carriage return in a value is written as its
// backslash escape, so that a value can hold them without ending the field or the row.
// Pure functions; thread-safe.
#pragma once
#include <string>
#include <string_view>

namespace cronhost::store {

inline constexpr std::string_view kCopyNull = "\\N";

// Appends `value` escaped for COPY text format to `row` (no separator).
inline void append_copy_field(std::string& row, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\': row += "\\\\"; break;
      case '\t': row += "\\t"; break;
      case '\n': row += "\\n"; break;
      case '\r': row += "\\r"; break;
      default: row += c;
    }
  }
}

}  // namespace cronhost::store
