// What crosses the db API, whichever engine is behind it: the values bound to `?`
// placeholders, the rows a query returns, and why a call failed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace cronhost::api {

// Binary data (a blob, bytea, VARBINARY): a Lua string too, but kept apart from text so that
// JSON callers (plugins) can tell them apart.
struct DbBytes {
  std::string data;
  bool operator==(const DbBytes&) const = default;
};

// NULL, boolean, integer, number, text or bytes. Timestamps and dates arrive as RFC 3339 text,
// and numerics that do not fit a double as their exact text.
using DbValue = std::variant<std::nullptr_t, bool, int64_t, double, std::string, DbBytes>;

struct DbRows {
  std::vector<std::string> columns;
  std::vector<std::vector<DbValue>> rows;  // each as long as columns
};

// What one query may return before it is stopped with an error (the host's memory is not
// the run's, so a SELECT * of a big table must not take it).
struct DbCaps {
  size_t max_rows = 100'000;
  size_t max_bytes = size_t{64} << 20;  // of values, as the engine returned them
};

// Why a call failed. The Lua binding raises for the script's own mistakes (kMisuse, kRefused)
// and returns nil, err for what the database said (kServer: an SQL error, a lost server).
enum class DbFault { kServer, kRefused, kMisuse };

template <typename T>
class [[nodiscard]] DbResult {
 public:
  DbResult(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  static DbResult fail(DbFault fault, std::string message) { return DbResult(fault, std::move(message)); }
  template <typename U>
  static DbResult from(const DbResult<U>& other) { return DbResult(other.fault(), other.message()); }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  DbFault fault() const { return fault_; }
  const std::string& message() const { return message_; }

 private:
  DbResult(DbFault fault, std::string message) : fault_(fault), message_(std::move(message)) {}
  std::optional<T> value_;
  DbFault fault_ = DbFault::kServer;
  std::string message_;
};

struct DbDone {};  // a call that returns nothing but can fail

}  // namespace cronhost::api
