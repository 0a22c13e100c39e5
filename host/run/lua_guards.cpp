#include "run/lua_guards.hpp"

#include <initializer_list>

namespace cronhost::run {
namespace {

// Items table.move and table.concat handle between two stop checks (each is a table access or two).
constexpr lua_Integer kMovesPerCheck = 4096;

// The stop check kept as upvalue 1 (nil: none).
void check_stop(lua_State* L) {
  if (const lua_CFunction check = lua_tocfunction(L, lua_upvalueindex(1))) check(L);
}

// The stock setmetatable, but refusing a metatable with __gc. An object is marked for
// finalization only when it gets a metatable that has __gc at that moment, so refusing such
// metatables here leaves no object with a finalizer a script wrote: a __gc added to the
// metatable afterwards is never called.
int setmetatable_without_gc(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const int type = lua_type(L, 2);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
  if (type == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    const bool has_gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc)
      return luaL_argerror(L, 2, "a metatable with __gc is not allowed (finalizers cannot be stopped at the run's timeout)");
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// Upvalues: the stock string.rep.
int rep_bounded(lua_State* L) {
  size_t len = 0, sep_len = 0;
  luaL_checklstring(L, 1, &len);
  const lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &sep_len);
  if (n > 0 && len + sep_len == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  // Any other result is allocated (against the memory cap) before the stock loop fills it.
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

// The stock library's check of a table argument: a table, or a value whose metatable has
// every one of `metamethods` (__index to read, __newindex to write, __len for a length).
void check_table(lua_State* L, int arg, std::initializer_list<const char*> metamethods) {
  if (lua_type(L, arg) == LUA_TTABLE) return;
  if (lua_getmetatable(L, arg)) {
    bool has_all = true;
    for (const char* name : metamethods) {
      lua_pushstring(L, name);
      has_all = has_all && lua_rawget(L, -2) != LUA_TNIL;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (has_all) return;
  }
  luaL_checktype(L, arg, LUA_TTABLE);
}

// Upvalues: the stop check. table.move(a1, f, e, t [, a2]) with the
// stock checks and order of copies, and a stop check every kMovesPerCheck elements.
int move_bounded(lua_State* L) {
  const lua_Integer f = luaL_checkinteger(L, 2);
  const lua_Integer e = luaL_checkinteger(L, 3);
  const lua_Integer t = luaL_checkinteger(L, 4);
  const int to = lua_isnoneornil(L, 5) ? 1 : 5;
  check_table(L, 1, {"__index"});
  check_table(L, to, {"__newindex"});
  if (e >= f) {
    luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
    const lua_Integer n = e - f + 1;
    luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
    const bool forward = t > e || t <= f || (to != 1 && !lua_compare(L, 1, to, LUA_OPEQ));
    for (lua_Integer k = 0; k < n; ++k) {
      if (k % kMovesPerCheck == kMovesPerCheck - 1) check_stop(L);
      const lua_Integer i = forward ? k : n - 1 - k;
      lua_geti(L, 1, f + i);
      lua_seti(L, to, t + i);
    }
  }
  lua_pushvalue(L, to);
  return 1;
}

// Upvalues: the stop check. table.concat(list [, sep [, i [, j]]]) as the stock one, with a
// stop check every kMovesPerCheck items: the range is the script's, and an __index that is a
// C function (table.concat itself returns "") runs no VM instruction the hook could count.
int concat_bounded(lua_State* L) {
  check_table(L, 1, {"__index", "__len"});
  lua_Integer last = luaL_len(L, 1);
  size_t sep_len = 0;
  const char* sep = luaL_optlstring(L, 2, "", &sep_len);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  last = luaL_optinteger(L, 4, last);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const auto add_item = [&](lua_Integer at) {
    lua_geti(L, 1, at);
    if (!lua_isstring(L, -1))
      luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1),
                 static_cast<LUAI_UACINT>(at));
    luaL_addvalue(&b);
  };
  for (lua_Integer n = 1; i < last; ++i, ++n) {
    if (n % kMovesPerCheck == 0) check_stop(L);
    add_item(i);
    luaL_addlstring(&b, sep, sep_len);
  }
  if (i == last) add_item(i);
  luaL_pushresult(&b);
  return 1;
}

}  // namespace

void push_stop_check(lua_State* L, lua_CFunction check) {
  if (check) lua_pushcfunction(L, check);
  else lua_pushnil(L);
}

void open_base_and_string_guards(lua_State* L) {
  lua_pushcfunction(L, setmetatable_without_gc);
  lua_setglobal(L, "setmetatable");

  lua_getglobal(L, LUA_STRLIBNAME);
  lua_getfield(L, -1, "rep");
  lua_pushcclosure(L, rep_bounded, 1);
  lua_setfield(L, -2, "rep");
  lua_pop(L, 1);
}

void guard_table_library(lua_State* L, lua_CFunction check) {
  push_stop_check(L, check);
  lua_pushcclosure(L, move_bounded, 1);
  lua_setfield(L, -2, "move");
  push_stop_check(L, check);
  lua_pushcclosure(L, concat_bounded, 1);
  lua_setfield(L, -2, "concat");
}

}  // namespace cronhost::run
