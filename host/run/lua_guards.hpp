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

// Pushes `check` for a closure's upvalue (nil when null); lua_tocfunction gets it back.
void push_stop_check(lua_State* L, lua_CFunction check);

// Installs the guards over the opened base and string libraries.
void open_base_and_string_guards(lua_State* L);

// Installs the guards in the table library on top of the stack, before it is published.
// `check` raises (luaL_error) when the run must stop; null: never checked.
void guard_table_library(lua_State* L, lua_CFunction check);

}  // namespace cronhost::run
