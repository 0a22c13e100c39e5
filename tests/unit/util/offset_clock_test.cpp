#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "util/offset_clock.hpp"

using namespace cronhost;

TEST_CASE("a reading of the server's clock is corrected by half its round trip", "[offset_clock]") {
  OffsetSamples samples;
  CHECK_FALSE(samples.median());
  // Sent at 1000, answered at 1010: the server read 301005 at about 1005, so it is 300000 ahead.
  samples.add(1000, 301005, 1010);
  CHECK(samples.median() == 300000);
  OffsetSamples behind;
  behind.add(5000, 4000, 5020);  // read at about 5010
  CHECK(behind.median() == -1010);
}

TEST_CASE("the offset is the median of the last five readings, so an outlier moves it by nothing",
          "[offset_clock]") {
  struct Row {
    std::vector<int64_t> offsets;
    int64_t median;
  };
  const Row rows[] = {
      {{7}, 7},
      {{10, 20}, 10},                     // an even count: the lower middle one
      {{10, 12, 11}, 11},
      {{100, 101, 99, 250'000, 100}, 100},  // one reading that waited behind a slow server
      {{100, -90'000, 101, 99, 100}, 100},  // or a wall clock stepped between send and answer
      {{100, 101, 250'000, 99, 260'000}, 101},  // two of five still leave the median alone
      // Only the last five count: the clock was set right (offset 300 s to 0) since.
      {{300'000, 300'001, 300'002, 0, 1, 2, 3, 4}, 2},
  };
  for (const auto& row : rows) {
    OffsetSamples samples;
    for (const int64_t offset : row.offsets) samples.add_offset(offset);
    CHECK(samples.size() == std::min(row.offsets.size(), OffsetSamples::kKept));
    CHECK(samples.median() == row.median);
  }
}

TEST_CASE("the offset clock reads the system clock plus its offset and waits the corrected gap",
          "[offset_clock]") {
  OffsetClock clock;
  CHECK(std::abs(clock.now_ms() - now_ms()) <= 1);
  clock.set_offset_ms(300'000);
  CHECK(clock.offset_ms() == 300'000);
  CHECK(std::abs(clock.now_ms() - (now_ms() + 300'000)) <= 1);
  // A wait until 50 ms from now on the corrected clock lasts 50 ms of real time, not 5 minutes.
  std::mutex mutex;
  std::condition_variable cv;
  std::unique_lock lock(mutex);
  const auto before = std::chrono::steady_clock::now();
  const int64_t until = clock.now_ms() + 50;
  while (clock.now_ms() < until) clock.wait_until(cv, lock, until);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - before);
  CHECK(waited.count() >= 49);
  CHECK(waited.count() < 1000);
  clock.set_offset_ms(-300'000);
  CHECK(std::abs(clock.now_ms() - (now_ms() - 300'000)) <= 1);
}
