// What every Lua state of a run starts from, in the host or in an isolated runner process:
// a counting allocator with a cap, and only the safe standard libraries (base, table,
// string, math, utf8, coroutine; os.time/date/clock/difftime; load for text chunks only; no
// io, debug, package, dofile, loadfile or string.dump), with pattern matching and the few
// stock C loops the instruction hook cannot stop bounded. Per lua_State; not thread-safe.
#pragma once
#include <array>
#include <cstddef>
#include <lua.hpp>

#include "run/lua_arena.hpp"

namespace cronhost::run {

// The allocator for lua_newstate: refuses to grow past `limit` (Lua then raises "not enough
// memory") and remembers that it did. Small blocks come from `arena` when there is one.
struct LuaAllocator {
  size_t used = 0;
  size_t peak = 0;  // the most `used` has been
  size_t limit = 0;
  bool exceeded = false;
  LuaArena* arena = nullptr;
  static void* allocate(void* ud, void* ptr, size_t old_size, size_t new_size);
};

// All of the safe libraries. Also installs the bounded pattern functions and the guards
// (lua_pattern.hpp, lua_guards.hpp), which call `check` every few thousand steps of their C
// loops; `check` raises when the run must stop (null: never, for a process the host kills at
// the deadline).
void open_safe_libraries(lua_State* L, lua_CFunction check = nullptr);

// Only base and string (the string metatable gives "x":len() and "10" + 1), with their guards:
// for a state that opens the others when a script first names one (bindings/open_all.hpp).
void open_safe_base(lua_State* L, lua_CFunction check = nullptr);

// table, math, utf8, coroutine and os: each `open` installs its global, trimmed and guarded.
// Opening them was half of a trivial run's cost (~8 us of ~17 us).
struct OnDemandLibrary {
  const char* name;
  void (*open)(lua_State* L, lua_CFunction check);
};
extern const std::array<OnDemandLibrary, 5> kOnDemandLibraries;

}  // namespace cronhost::run
