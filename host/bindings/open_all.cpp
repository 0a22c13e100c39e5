#include "bindings/open_all.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "run/lua_base.hpp"
#include "run/lua_guards.hpp"

namespace cronhost::bindings {
namespace {

// The API modules, opened when a script first names one: a run that uses two modules does
// not build thirteen (building them all was a quarter of a trivial run's cost).
struct Module {
  const char* name;
  void (*open)(lua_State*);  // installs the global `name`
};
constexpr Module kModules[] = {{"job", open_job},         {"log", open_log},         {"json", open_json},
                               {"state", open_state},     {"approvals", open_approvals}, {"semver", open_semver},
                               {"http", open_http},       {"registry", open_registry}, {"db", open_db},
                               {"files", open_files},     {"storage", open_storage}, {"mail", open_mail},
                               {"host", open_host}};

// The run's stop check, kept as upvalue 1 of the closures below: the table library's guards
// take it when it opens (run/lua_guards.hpp).
lua_CFunction stop_check(lua_State* L) { return lua_tocfunction(L, lua_upvalueindex(1)); }

// Opens the module or standard library called `name`; false: there is none.
bool open_by_name(lua_State* L, const char* name) {
  const auto same = [name](const auto& entry) { return std::strcmp(name, entry.name) == 0; };
  if (const auto module = std::find_if(std::begin(kModules), std::end(kModules), same); module != std::end(kModules)) {
    module->open(L);
    return true;
  }
  const auto& libraries = run::kOnDemandLibraries;
  if (const auto library = std::find_if(libraries.begin(), libraries.end(), same); library != libraries.end()) {
    library->open(L, stop_check(L));
    return true;
  }
  return false;
}

int opener_key = 0;  // registry: the globals' metatable that opens what a script names

// __index of the globals table (globals, name): opens the module and answers with it. Only
// Lua's own lookups call it: a script never holds the metatable (settle_globals).
int open_on_first_use(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING || !open_by_name(L, lua_tostring(L, 2))) return 0;
  lua_pushglobaltable(L);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

// Opens every module and library not open yet and takes the opener off the globals, before a
// script walks them or reads or replaces their metatable: it then sees all of them, and never
// the opener (whose __index or __newindex it could otherwise change under the libraries).
void settle_globals(lua_State* L) {
  lua_pushglobaltable(L);
  const int globals = lua_gettop(L);
  const auto open_if_missing = [L, globals](const char* name) {
    lua_pushstring(L, name);
    if (lua_rawget(L, globals) == LUA_TNIL) open_by_name(L, name);
    lua_pop(L, 1);
  };
  for (const auto& module : kModules) open_if_missing(module.name);
  for (const auto& library : run::kOnDemandLibraries) open_if_missing(library.name);
  if (lua_getmetatable(L, globals)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &opener_key);
    if (lua_rawequal(L, -1, -2)) {
      lua_pushnil(L);
      lua_setmetatable(L, globals);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

bool is_globals(lua_State* L, int index) {
  lua_pushglobaltable(L);
  const bool globals = lua_rawequal(L, index, -1);
  lua_pop(L, 1);
  return globals;
}

// __pairs of the globals. Upvalues: the stop check, the real `next` (the script may replace
// its own).
int pairs_after_settling(lua_State* L) {
  settle_globals(L);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// getmetatable(_G) and setmetatable(_G, mt) settle the globals first. Upvalues: the stop
// check, the stock getmetatable or the guarded setmetatable.
int settling_first(lua_State* L) {
  if (is_globals(L, 1)) settle_globals(L);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

// Replaces the global `name` with settling_first over it.
void settle_before(lua_State* L, const char* name, lua_CFunction check) {
  run::push_stop_check(L, check);
  lua_getglobal(L, name);
  lua_pushcclosure(L, settling_first, 2);
  lua_setglobal(L, name);
}

}  // namespace

void open_all(lua_State* L, lua_CFunction check) {
  open_print(L);
  open_sleep_and_require(L);

  lua_pushglobaltable(L);
  lua_createtable(L, 0, 2);
  run::push_stop_check(L, check);
  lua_pushcclosure(L, open_on_first_use, 1);
  lua_setfield(L, -2, "__index");
  run::push_stop_check(L, check);
  lua_getglobal(L, "next");
  lua_pushcclosure(L, pairs_after_settling, 2);
  lua_setfield(L, -2, "__pairs");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &opener_key);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  settle_before(L, "getmetatable", check);
  settle_before(L, "setmetatable", check);
}

}  // namespace cronhost::bindings
