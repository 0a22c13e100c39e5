// Lua 5.4's pattern functions (string.find, match, gmatch, gsub) with a stop check.
// The stock matcher in lstrlib.c is C code that the instruction hook never interrupts, so
// string.find(("a"):rep(50000), ".-.-.-.-.-b") would hold its thread for hours. This one has
// the same semantics (patterns, captures, results, error messages) and calls the state's
// stop check every few thousand matcher steps. Per lua_State; not thread-safe.
#pragma once
#include <lua.hpp>

namespace cronhost::run {

// Replaces find, match, gmatch and gsub in the global `string` table (which is also the
// string metatable's __index, so ("x"):find(...) is covered). `check` is called as a plain
// C function every few thousand steps and raises (luaL_error) when the run must stop; null:
// never checked (a runner process the host kills at the deadline).
void open_bounded_patterns(lua_State* L, lua_CFunction check);

}  // namespace cronhost::run
