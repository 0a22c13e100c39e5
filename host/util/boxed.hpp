// Boxed<T>: an optional value kept on the heap, so that where it is absent it costs one null
// pointer. For parts of a large struct that most instances lack: JobSpec held its HTTP runner
// and its writeback as std::optional inline, 256 bytes in every job (24 MB at 100,000 jobs)
// where a few table-source or service jobs have one. Copies are deep, as std::optional's are.
// A moved-from box is empty (a moved-from std::optional stays engaged). Not thread-safe
// beyond what T is; a Boxed is as const as its owner.
#pragma once
#include <memory>
#include <optional>
#include <utility>

namespace cronhost {

template <class T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(std::nullopt_t) {}  // NOLINT: converts as std::optional does
  Boxed(T value) : value_(std::make_unique<T>(std::move(value))) {}  // NOLINT
  Boxed(std::optional<T> value) {                                     // NOLINT
    if (value) value_ = std::make_unique<T>(std::move(*value));
  }
  Boxed(const Boxed& other) : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this != &other) value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;

  bool has_value() const { return value_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return value_.get(); }
  const T* operator->() const { return value_.get(); }

 private:
  std::unique_ptr<T> value_;
};

}  // namespace cronhost
