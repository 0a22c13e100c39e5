// The answer of a host API call that adapters turn into their own two kinds of failure: the
// caller's mistake or a denial (kMisuse: raised in Lua; CRONHOST_EINVAL, or CRONHOST_EDENIED
// when the message names the "(allow." key, across the C ABI) and the outside world failing
// (kFailed: nil, err in Lua; CRONHOST_EFAILED). Plain data; safe to copy between threads.
#pragma once
#include <optional>
#include <string>
#include <utility>

namespace cronhost::api {

enum class CallFault { kFailed, kMisuse };

template <typename T>
class [[nodiscard]] CallResult {
 public:
  CallResult(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  static CallResult failed(std::string message) { return CallResult(CallFault::kFailed, std::move(message)); }
  static CallResult misuse(std::string message) { return CallResult(CallFault::kMisuse, std::move(message)); }
  template <typename U>
  static CallResult from(const CallResult<U>& other) { return CallResult(other.fault(), other.message()); }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  CallFault fault() const { return fault_; }
  const std::string& message() const { return message_; }

 private:
  CallResult(CallFault fault, std::string message) : fault_(fault), message_(std::move(message)) {}
  std::optional<T> value_;
  CallFault fault_ = CallFault::kFailed;
  std::string message_;
};

struct CallDone {};  // a call that returns nothing but can fail

}  // namespace cronhost::api
