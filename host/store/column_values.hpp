// Reading and binding a state-file column that may be NULL: one definition for every store file.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <SQLiteCpp/Column.h>
#include <SQLiteCpp/Statement.h>

namespace cronhost::store {

inline std::optional<int64_t> optional_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

// NULL reads as "".
inline std::string text(const SQLite::Column& c) { return c.isNull() ? std::string() : c.getString(); }

// An absent value binds NULL; any other value binds as itself.
template <typename T>
void bind_or_null(SQLite::Statement& q, int index, const T& value) {
  q.bind(index, value);
}

template <typename T>
void bind_or_null(SQLite::Statement& q, int index, const std::optional<T>& value) {
  if (value) q.bind(index, *value);
  else q.bind(index);
}

}  // namespace cronhost::store
