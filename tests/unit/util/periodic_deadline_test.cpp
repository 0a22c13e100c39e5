// The history prune's timer: due every period, whatever cuts its waits short (signals).
#include <catch2/catch.hpp>

#include "util/periodic_deadline.hpp"

using cronhost::PeriodicDeadline;
using namespace std::chrono_literals;

TEST_CASE("a periodic deadline falls due a period after the last time it was taken, however often it is asked",
          "[util]") {
  const PeriodicDeadline::Clock::time_point start{};
  PeriodicDeadline prune(10min, start);
  // A reload every 3 minutes: each wait is cut short, none moves the deadline.
  for (auto at = start; at < start + 10min; at += 3min) {
    CHECK_FALSE(prune.take(at));
    const timespec left = prune.left(at);
    CHECK(std::chrono::seconds(left.tv_sec) + std::chrono::nanoseconds(left.tv_nsec) == start + 10min - at);
  }
  CHECK(prune.take(start + 10min + 1ms));
  CHECK_FALSE(prune.take(start + 10min + 2ms));  // taken: the next one is a period later
  CHECK(prune.left(start + 10min + 1ms).tv_sec == 600);
  CHECK(prune.left(start + 30min).tv_sec == 0);  // overdue: no wait
  CHECK(prune.left(start + 30min).tv_nsec == 0);
  CHECK(prune.take(start + 30min));
}
