#include "run/lua_arena.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace cronhost::run {

struct ArenaPool {
  // Regions kept for reuse: enough for 64 runs at once (64 workers); more concurrent runs
  // than that use malloc alone.
  static constexpr size_t kMaxRegions = 64;
  std::mutex mutex;
  std::vector<LuaArena*> idle;  // GUARDED_BY(mutex)
  size_t leased = 0;            // GUARDED_BY(mutex)
};

namespace {
ArenaPool& pool() {
  static auto* p = new ArenaPool;  // never destroyed: runs may end while the process exits
  return *p;
}
}  // namespace

LuaArena::LuaArena() : region_(static_cast<char*>(std::aligned_alloc(64, kRegionBytes))) {}

LuaArena::~LuaArena() { std::free(region_); }

void LuaArena::reset() {
  used_ = 0;
  for (auto& head : free_) head = nullptr;
}

LuaArena* LuaArena::lease() {
#if defined(__SANITIZE_ADDRESS__)
  return nullptr;
#else
  ArenaPool& p = pool();
  std::lock_guard lock(p.mutex);
  if (!p.idle.empty()) {
    LuaArena* arena = p.idle.back();
    p.idle.pop_back();
    ++p.leased;
    return arena;
  }
  if (p.leased >= ArenaPool::kMaxRegions) return nullptr;
  auto* arena = new (std::nothrow) LuaArena();
  if (arena && !arena->region_) {
    delete arena;
    arena = nullptr;
  }
  if (arena) ++p.leased;
  return arena;
#endif
}

void LuaArena::release(LuaArena* arena) {
  if (!arena) return;
  arena->reset();
  ArenaPool& p = pool();
  std::lock_guard lock(p.mutex);
  --p.leased;
  p.idle.push_back(arena);
}

void* LuaArena::allocate(size_t size) {
  const size_t block = block_size(size);
  FreeBlock*& head = free_[block / 16 - 1];
  if (head) {
    void* p = head;
    head = head->next;
    return p;
  }
  if (used_ + block > kRegionBytes) return nullptr;
  void* p = region_ + used_;
  used_ += block;
  return p;
}

void LuaArena::free(void* p, size_t size) {
  FreeBlock*& head = free_[block_size(size) / 16 - 1];
  head = new (p) FreeBlock{head};
}

}  // namespace cronhost::run
