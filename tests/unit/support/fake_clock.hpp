// A clock the test moves: scheduler rules (retries, catch-up, concurrency) run as tables
// without sleeping. Waiters poll it every millisecond of real time, so a move is seen at once.
#pragma once
#include <atomic>

#include "util/clock.hpp"

namespace cronhost::test {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t until_ms) const override {
    if (now_.load() < until_ms) cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  void set(int64_t ms) { now_ = ms; }
  void advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace cronhost::test
