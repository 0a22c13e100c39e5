// A host clock corrected to another clock's time: hosts that share one PostgreSQL state fire
// by the database server's clock, so a host whose own clock is minutes off neither fires
// slots early nor leaves them late (issue 14). OffsetSamples turns readings of the server's
// clock into an offset; OffsetClock is the Clock (util/clock.hpp) the scheduler reads.
// Thread-safety: OffsetSamples is not thread-safe (one thread takes the readings, the
// heartbeat's); OffsetClock may be read and set from any thread.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "util/clock.hpp"

namespace cronhost {

// The last kKept readings of (server clock minus host clock), and their median: one reading
// that waited behind a slow server or a scheduling hiccup moves the median by nothing. Units
// are the caller's (the heartbeat uses microseconds).
class OffsetSamples {
 public:
  static constexpr size_t kKept = 5;

  // A reading: the server's clock said `server` between the host times `sent` and `received`.
  // The server read its clock about half the round trip after `sent`.
  void add(int64_t sent, int64_t server, int64_t received) { add_offset(server - (sent + (received - sent) / 2)); }
  void add_offset(int64_t offset) {
    offsets_.push_back(offset);
    if (offsets_.size() > kKept) offsets_.pop_front();
  }
  // The median of the kept offsets (the lower middle one of an even count); none before the
  // first reading.
  std::optional<int64_t> median() const {
    if (offsets_.empty()) return std::nullopt;
    std::vector<int64_t> sorted(offsets_.begin(), offsets_.end());
    const auto middle = sorted.begin() + static_cast<std::ptrdiff_t>((sorted.size() - 1) / 2);
    std::nth_element(sorted.begin(), middle, sorted.end());
    return *middle;
  }
  size_t size() const { return offsets_.size(); }

 private:
  std::deque<int64_t> offsets_;
};

// The system clock plus an offset set from outside (0 until set).
class OffsetClock final : public Clock {
 public:
  int64_t now_ms() const override { return now_us() / 1000; }
  // Waits by the steady clock for the gap between now and `until_ms` on this clock: a wall
  // clock that is stepped meanwhile (or faked, as faketime does) does not stretch the wait.
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, int64_t until_ms) const override {
    const int64_t gap_us = until_ms * 1000 - now_us();
    if (gap_us <= 0) return;
    cv.wait_for(lock, std::chrono::microseconds(gap_us));
  }
  void set_offset_ms(int64_t offset) { offset_us_.store(offset * 1000, std::memory_order_relaxed); }
  void set_offset_us(int64_t offset) { offset_us_.store(offset, std::memory_order_relaxed); }
  int64_t offset_ms() const { return offset_us_.load(std::memory_order_relaxed) / 1000; }

 private:
  int64_t now_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
               .count() +
           offset_us_.load(std::memory_order_relaxed);
  }
  std::atomic<int64_t> offset_us_{0};
};

}  // namespace cronhost
