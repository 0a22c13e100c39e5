#include "util/malloc_release.hpp"

#include <malloc.h>

#include <atomic>
#include <chrono>

namespace cronhost {
namespace {

constexpr size_t kBigRunBytes = 1 << 20;
constexpr auto kMinTrimInterval = std::chrono::seconds(1);

std::atomic<bool> big_run_freed{false};
std::atomic<std::chrono::steady_clock::rep> last_trim{0};

}  // namespace

void run_memory_freed(size_t peak_bytes) {
  if (peak_bytes >= kBigRunBytes) big_run_freed.store(true, std::memory_order_relaxed);
}

void release_freed_memory() {
  if (!big_run_freed.load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto last = last_trim.load(std::memory_order_relaxed);
  if (now - last < std::chrono::steady_clock::duration(kMinTrimInterval).count()) return;
  // One worker trims; the others that drained the queue at the same moment skip it.
  if (!last_trim.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  big_run_freed.store(false, std::memory_order_relaxed);
  malloc_trim(0);
}

}  // namespace cronhost
