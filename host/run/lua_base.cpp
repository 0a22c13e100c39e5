#include "run/lua_base.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "run/lua_guards.hpp"
#include "run/lua_pattern.hpp"

namespace cronhost::run {
namespace {

// load() that refuses binary chunks whatever mode the script asks for. An env is passed on
// only when the script gave one: an explicit nil would leave the chunk without globals.
int text_only_load(lua_State* L) {
  const int args = lua_gettop(L) >= 4 ? 4 : 3;
  lua_settop(L, args);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, args, LUA_MULTRET);
  return lua_gettop(L);
}

void remove_global(lua_State* L, const char* name) {
  lua_pushnil(L);
  lua_setglobal(L, name);
}

// Pops the table on top of the stack into the globals as `name`, raw: whatever the globals'
// metatable holds never sees a library, let alone one whose guards are not in yet.
void publish(lua_State* L, const char* name) {
  lua_pushglobaltable(L);
  lua_pushstring(L, name);
  lua_rotate(L, -3, -1);  // globals, name, table
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

void open_global(lua_State* L, const char* name, lua_CFunction luaopen) {
  luaL_requiref(L, name, luaopen, 0);
  publish(L, name);
}

// A failure half way (out of memory) publishes nothing; the next try guards the same table.
void open_table(lua_State* L, lua_CFunction check) {
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
  guard_table_library(L, check);
  publish(L, LUA_TABLIBNAME);
}

// os: only the clock and calendar functions.
void open_os(lua_State* L, lua_CFunction) {
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
  lua_createtable(L, 0, 4);
  for (const char* name : {"time", "date", "clock", "difftime"}) {
    lua_getfield(L, -2, name);
    lua_setfield(L, -2, name);
  }
  publish(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
}

}  // namespace

void* LuaAllocator::allocate(void* ud, void* ptr, size_t old_size, size_t new_size) {
  auto* a = static_cast<LuaAllocator*>(ud);
  const size_t old = ptr ? old_size : 0;  // without ptr, old_size is the kind of object
  LuaArena* arena = a->arena;
  const bool in_arena = arena && ptr && arena->owns(ptr);
  if (new_size == 0) {
    if (in_arena)
      arena->free(ptr, old);
    else
      std::free(ptr);
    a->used -= old;
    return nullptr;
  }
  if (new_size > old && a->used + (new_size - old) > a->limit) {
    a->exceeded = true;
    return nullptr;  // Lua raises "not enough memory"
  }
  void* p = nullptr;
  if (in_arena && LuaArena::block_size(new_size) == LuaArena::block_size(old)) {
    p = ptr;
  } else if (in_arena || (!ptr && arena && new_size <= LuaArena::kLargestBlock)) {
    if (new_size <= LuaArena::kLargestBlock) p = arena->allocate(new_size);
    if (!p) p = std::malloc(new_size);
    if (p && ptr) {
      std::memcpy(p, ptr, std::min(old, new_size));
      arena->free(ptr, old);
    }
  } else {
    p = std::realloc(ptr, new_size);
  }
  if (p) {
    a->used = a->used - old + new_size;
    if (a->used > a->peak) a->peak = a->used;
  }
  return p;
}

void open_safe_base(lua_State* L, lua_CFunction check) {
  open_global(L, LUA_GNAME, luaopen_base);
  open_global(L, LUA_STRLIBNAME, luaopen_string);
  for (const char* name : {"dofile", "loadfile"}) remove_global(L, name);
  lua_getglobal(L, "load");
  lua_pushcclosure(L, text_only_load, 1);
  lua_setglobal(L, "load");
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  open_bounded_patterns(L, check);
  open_base_and_string_guards(L);
}

const std::array<OnDemandLibrary, 5> kOnDemandLibraries = {{
    {LUA_TABLIBNAME, open_table},
    {LUA_MATHLIBNAME, [](lua_State* L, lua_CFunction) { open_global(L, LUA_MATHLIBNAME, luaopen_math); }},
    {LUA_UTF8LIBNAME, [](lua_State* L, lua_CFunction) { open_global(L, LUA_UTF8LIBNAME, luaopen_utf8); }},
    {LUA_COLIBNAME, [](lua_State* L, lua_CFunction) { open_global(L, LUA_COLIBNAME, luaopen_coroutine); }},
    {LUA_OSLIBNAME, open_os},
}};

void open_safe_libraries(lua_State* L, lua_CFunction check) {
  open_safe_base(L, check);
  for (const OnDemandLibrary& library : kOnDemandLibraries) library.open(L, check);
}

}  // namespace cronhost::run
