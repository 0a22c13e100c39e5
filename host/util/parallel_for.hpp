// Runs f(i) for every i in [0, n) on up to `threads` threads (the caller's among them), each
// taking the next index as it finishes one. For independent work whose results the caller
// keeps by index; f must not throw. Returns when every call has returned.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace cronhost {

template <typename F>
void parallel_for(size_t n, size_t threads, F&& f) {
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < n; i = next.fetch_add(1, std::memory_order_relaxed))
      f(i);
  };
  std::vector<std::thread> helpers;
  const size_t count = std::min(threads, n);
  for (size_t t = 1; t < count; ++t) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
}

}  // namespace cronhost
