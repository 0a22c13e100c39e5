// The wall clock as Unix milliseconds: the unit of every time in the state file and the API.
// `Clock` is the same clock behind an interface, so the scheduler's rules (retries, catch-up,
// concurrency) can be tested with a clock the test moves (tests/unit/support/fake_clock.hpp).
// Thread-safety: implementations are safe to call from any thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace cronhost {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;
  // Waits on `cv` until woken or until this clock reads `until_ms` (spurious wakes allowed).
  virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t until_ms) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override { return cronhost::now_ms(); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t until_ms) const override {
    cv.wait_until(lock, std::chrono::system_clock::time_point(std::chrono::milliseconds(until_ms)));
  }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace cronhost
