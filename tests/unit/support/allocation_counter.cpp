// The unit tests' replacement of the global operator new/delete: malloc and free, counted.
// Aligned forms keep the library's own versions (those call these or free).
#include "allocation_counter.hpp"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<size_t> g_now{0};
std::atomic<size_t> g_peak{0};

void counted(size_t bytes) {
  const size_t now = g_now.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

namespace cronhost::test {

size_t new_bytes_now() { return g_now.load(); }
size_t new_bytes_peak() { return g_peak.load(); }
void reset_new_peak() { g_peak.store(g_now.load()); }

}  // namespace cronhost::test

void* operator new(size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  counted(malloc_usable_size(p));
  return p;
}

void* operator new[](size_t size) { return operator new(size); }

void operator delete(void* p) noexcept {
  if (!p) return;
  g_now.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}

void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

// The nothrow forms too: under AddressSanitizer the library's own nothrow new is ASan's, which
// must not be freed by the replaced delete above (alloc-dealloc-mismatch).
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  void* p = std::malloc(size ? size : 1);
  if (p) counted(malloc_usable_size(p));
  return p;
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { operator delete(p); }
