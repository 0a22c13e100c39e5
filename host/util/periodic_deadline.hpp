// A task due every period of steady time, however often the wait for it is cut short: the
// host's main loop waits for signals and for the next history prune together, and a wait of
// a whole period after each signal meant a host reloaded every few minutes never pruned.
#pragma once
#include <algorithm>
#include <chrono>
#include <ctime>

namespace cronhost {

class PeriodicDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  PeriodicDeadline(Clock::duration period, Clock::time_point now) : period_(period), due_(now + period) {}

  // What is left until it is due (zero once it is), for sigtimedwait.
  timespec left(Clock::time_point now) const {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(due_ - now, Clock::duration::zero()));
    return {static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
  }

  // Whether it is due; if so, the next time is a period from `now`.
  bool take(Clock::time_point now) {
    if (now < due_) return false;
    due_ = now + period_;
    return true;
  }

 private:
  Clock::duration period_;
  Clock::time_point due_;
};

}  // namespace cronhost
