// Guards on stock Lua functions that could hold a run's thread past its deadline, because
// Lua runs them with the instruction hook unable to fire:
//   setmetatable  refuses a metatable with __gc (finalizers run with hooks off: a looping
//                 __gc during collectgarbage() or lua_close could never be stopped);
//   string.rep    returns "" at once for an empty result (the stock loop copies nothing
//                 math.maxinteger times);
//   table.move,   copy with a stop check every few thousand items (an __index that is a C
//   table.concat  function, say table.concat, makes each item cost no VM instruction).
// Per lua_State; not thread-safe.
#pragma once
#include <lua.hpp>

namespace cronhost::run {

// Installs the guards over the opened base, string and table libraries. `check` raises
// (luaL_error) when the run must stop; null: never checked.
void open_guards(lua_State* L, lua_CFunction check);

}  // namespace cronhost::run
