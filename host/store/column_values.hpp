// Reading a state-file column that may be NULL: one definition for every store file.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <SQLiteCpp/Column.h>

namespace cronhost::store {

inline std::optional<int64_t> optional_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

// NULL reads as "".
inline std::string text(const SQLite::Column& c) { return c.isNull() ? std::string() : c.getString(); }

}  // namespace cronhost::store
