// Small blocks for one Lua state, carved from one region and handed back whole when the state
// closes: a sandbox makes and frees some 400 small objects per run, and malloc's bookkeeping
// for them was a third of a trivial run's cost. Not thread-safe: one lease per Lua state.
// Regions are pooled process-wide (thread-safe), so a run on any thread reuses one.
#pragma once
#include <cstddef>

namespace cronhost::run {

class LuaArena {
 public:
  static constexpr size_t kRegionBytes = 128u << 10;  // a trivial run's state peaks at ~20 KiB
  static constexpr size_t kLargestBlock = 512;        // larger ones go to malloc

  // A region from the pool (or a new one); nullptr when the pool is at its cap of leased
  // regions, or under AddressSanitizer (which must see each object). Given back with release.
  static LuaArena* lease();
  static void release(LuaArena* arena);

  bool owns(const void* p) const { return p >= region_ && p < region_ + kRegionBytes; }
  // A block of at least `size` bytes (≤ kLargestBlock), 16-aligned; nullptr when full.
  void* allocate(size_t size);
  void free(void* p, size_t size);
  // The size of a block of `size` bytes: a realloc within it keeps its place.
  static size_t block_size(size_t size) { return (size + 15) & ~size_t(15); }

 private:
  LuaArena();
  ~LuaArena();
  void reset();

  struct FreeBlock {
    FreeBlock* next;
  };
  static constexpr size_t kClasses = kLargestBlock / 16;
  char* region_;
  size_t used_ = 0;  // bytes carved from the region so far
  FreeBlock* free_[kClasses] = {};
  friend struct ArenaPool;
};

}  // namespace cronhost::run
