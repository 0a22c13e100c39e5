// The arena under Lua states: small blocks reused within a run, a run that outgrows the
// region carrying on with malloc, the memory cap unchanged, and regions shared by threads.
#include <catch2/catch.hpp>

#include <cstring>
#include <thread>
#include <vector>

#include "run/lua_base.hpp"

using namespace cronhost;

namespace {

// Runs `source` in a state on `allocator` and returns its string result or the error.
std::string run_chunk(run::LuaAllocator& allocator, const char* source) {
  lua_State* L = lua_newstate(run::LuaAllocator::allocate, &allocator);
  if (!L) return "error: no state";  // no REQUIRE: threads call this too
  run::open_safe_libraries(L);
  std::string out;
  if (luaL_loadstring(L, source) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    out = std::string("error: ") + lua_tostring(L, -1);
  else
    out = lua_tostring(L, -1) ? lua_tostring(L, -1) : "nil";
  lua_close(L);
  return out;
}

// Builds strings and tables of every size, frees them, and checks what survived.
constexpr char kChurn[] = R"~(
  local keep = {}
  for round = 1, 50 do
    local t = {}
    for i = 1, 200 do t[i] = string.rep(string.char(65 + i % 26), i % 700) .. round end
    keep[round % 7 + 1] = t
    collectgarbage("step")
  end
  local sum = 0
  for _, t in pairs(keep) do for i = 1, #t do sum = sum + #t[i] end end
  return tostring(sum))~";

}  // namespace

TEST_CASE("blocks are reused by size and the region gives out", "[lua][arena]") {
  run::LuaArena* arena = run::LuaArena::lease();
#if defined(__SANITIZE_ADDRESS__)
  CHECK(arena == nullptr);  // ASan sees each object through malloc
  return;
#endif
  REQUIRE(arena);
  void* a = arena->allocate(24);
  void* b = arena->allocate(17);
  CHECK(arena->owns(a));
  CHECK(reinterpret_cast<uintptr_t>(a) % 16 == 0);
  CHECK(reinterpret_cast<uintptr_t>(b) % 16 == 0);
  arena->free(a, 24);
  CHECK(arena->allocate(32) == a);  // same class: 17..32 bytes
  size_t carved = 0;
  while (arena->allocate(run::LuaArena::kLargestBlock)) carved += run::LuaArena::kLargestBlock;
  CHECK(carved < run::LuaArena::kRegionBytes);
  CHECK(carved > run::LuaArena::kRegionBytes - 2 * run::LuaArena::kLargestBlock);
  int on_stack = 0;
  CHECK_FALSE(arena->owns(&on_stack));
  run::LuaArena::release(arena);
  // A released region starts empty for the next lease.
  run::LuaArena* again = run::LuaArena::lease();
  REQUIRE(again == arena);
  CHECK(again->allocate(16) != nullptr);
  run::LuaArena::release(again);
}

TEST_CASE("a state on an arena computes what a state on malloc does", "[lua][arena]") {
  run::LuaAllocator plain;
  plain.limit = 256u << 20;
  const std::string expected = run_chunk(plain, kChurn);
  CHECK(expected.rfind("error", 0) != 0);
  CHECK(plain.used == 0);

  run::LuaAllocator pooled;
  pooled.limit = 256u << 20;
  pooled.arena = run::LuaArena::lease();
  CHECK(run_chunk(pooled, kChurn) == expected);  // far past the region: the rest from malloc
  CHECK(pooled.used == 0);
  run::LuaArena::release(pooled.arena);
}

TEST_CASE("the memory cap holds with an arena", "[lua][arena]") {
  run::LuaAllocator capped;
  capped.limit = 1u << 20;
  capped.arena = run::LuaArena::lease();
  const std::string out = run_chunk(capped, "local t = {} for i = 1, 1e7 do t[i] = {i} end return 'done'");
  CHECK(out == "error: not enough memory");
  CHECK(capped.exceeded);
  CHECK(capped.used == 0);
  run::LuaArena::release(capped.arena);
}

TEST_CASE("threads lease regions at once", "[lua][arena]") {
  run::LuaAllocator reference;
  reference.limit = 256u << 20;
  const std::string expected = run_chunk(reference, kChurn);
  std::vector<std::string> results(6);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        run::LuaAllocator allocator;
        allocator.limit = 256u << 20;
        allocator.arena = run::LuaArena::lease();
        std::string out = run_chunk(allocator, kChurn);
        run::LuaArena::release(allocator.arena);
        if (out != expected || allocator.used != 0) out = "mismatch: " + out;
        results[t] = out;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& out : results) CHECK(out == expected);
}
