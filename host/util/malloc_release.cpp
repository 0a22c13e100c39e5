#include "util/malloc_release.hpp"

#include <malloc.h>

#include <atomic>
#include <chrono>

namespace cronhost {
namespace {

constexpr size_t kBigRunBytes = 1 << 20;
constexpr std::chrono::steady_clock::duration kMinTrimInterval = std::chrono::seconds(1);

std::atomic<bool> big_run_freed{false};
std::atomic<std::chrono::steady_clock::rep> last_trim{0};

}  // namespace

void run_memory_freed(size_t peak_bytes) {
  if (peak_bytes >= kBigRunBytes) big_run_freed.store(true, std::memory_order_relaxed);
}

std::chrono::milliseconds release_freed_memory() {
  using namespace std::chrono;
  if (!big_run_freed.load(std::memory_order_relaxed)) return milliseconds(0);
  const auto now = steady_clock::now().time_since_epoch().count();
  auto last = last_trim.load(std::memory_order_relaxed);
  const auto since = steady_clock::duration(now - last);
  if (since < kMinTrimInterval) return ceil<milliseconds>(kMinTrimInterval - since);
  // One worker trims; the others that drained the queue at the same moment skip it.
  if (!last_trim.compare_exchange_strong(last, now, std::memory_order_relaxed)) return milliseconds(0);
  big_run_freed.store(false, std::memory_order_relaxed);
  malloc_trim(0);
  return milliseconds(0);
}

}  // namespace cronhost
