// Parameters to and cells from the PostgreSQL state store's statements (text format): one
// definition for every store/pg_*.cpp file. Cells follow column_values.hpp: NULL reads as ""
// or nothing, never as 0 by accident.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/pg_session.hpp"
#include "util/printable.hpp"

namespace cronhost::store::pg {

inline PgParam param(int64_t value) { return std::to_string(value); }
inline PgParam param(const std::string& value) { return value; }
inline PgParam param(std::optional<int64_t> value) {
  return value ? PgParam(std::to_string(*value)) : std::nullopt;
}
inline PgParam param_bool(bool value) { return std::string(value ? "true" : "false"); }
// "" as NULL, as the SQLite store leaves such a parameter unbound.
inline PgParam text_or_null(const std::string& value) { return value.empty() ? std::nullopt : PgParam(value); }

// Text a script wrote (a run's output, error and result, notes). PostgreSQL text holds neither
// invalid UTF-8 nor NUL (a parameter ends at its first NUL) where SQLite keeps any bytes: such
// bytes are stored as U+FFFD, so the run's outcome is recorded instead of refused.
inline PgParam script_text(const std::string& value) {
  if (is_text(value)) return value;
  std::string out;
  for (char c : printable(value)) {
    if (c == '\0') out += "\xEF\xBF\xBD";
    else out += c;
  }
  return out;
}
inline PgParam script_text_or_null(const std::string& value) {
  return value.empty() ? std::nullopt : script_text(value);
}

// A text[], bigint[] or int[] parameter in PostgreSQL's array syntax: each element quoted (so
// commas, braces and spaces are plain text), NULL unquoted.
inline PgParam array(const std::vector<PgParam>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (!items[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

inline std::optional<int64_t> optional_int(const std::optional<std::string>& cell) {
  if (!cell) return std::nullopt;
  return std::stoll(*cell);
}
inline int64_t integer(const std::optional<std::string>& cell) { return cell ? std::stoll(*cell) : 0; }
inline std::string text(const std::optional<std::string>& cell) { return cell.value_or(""); }
inline bool boolean(const std::optional<std::string>& cell) { return cell && *cell == "t"; }

}  // namespace cronhost::store::pg
