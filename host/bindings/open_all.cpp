#include "bindings/open_all.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

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

// __index of the globals table (globals, name): opens the module and answers with it.
int open_on_first_use(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char* name = lua_tostring(L, 2);
  const auto module = std::find_if(std::begin(kModules), std::end(kModules),
                                   [name](const Module& m) { return std::strcmp(name, m.name) == 0; });
  if (module == std::end(kModules)) return 0;
  module->open(L);
  lua_pushvalue(L, 2);
  lua_rawget(L, 1);
  return 1;
}

// Opens what is not open yet, so a walk of the globals (or a script's own metatable on
// them) sees the whole API.
void open_the_rest(lua_State* L, int globals) {
  for (const auto& module : kModules) {
    if (lua_getfield(L, globals, module.name) == LUA_TNIL) module.open(L);
    lua_pop(L, 1);
  }
}

// __pairs of the globals: the real `next` (an upvalue: the script may replace its own).
int pairs_after_opening(lua_State* L) {
  open_the_rest(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// setmetatable(_G, mt) replaces the metatable that opens modules: open them all first.
int setmetatable_opening_first(lua_State* L) {
  lua_pushglobaltable(L);
  const bool globals = lua_rawequal(L, 1, -1);
  lua_pop(L, 1);
  if (globals) open_the_rest(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

}  // namespace

void open_all(lua_State* L) {
  open_print(L);
  open_sleep_and_require(L);

  lua_pushglobaltable(L);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, open_on_first_use);
  lua_setfield(L, -2, "__index");
  lua_getglobal(L, "next");
  lua_pushcclosure(L, pairs_after_opening, 1);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, -2);
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, setmetatable_opening_first, 1);
  lua_setglobal(L, "setmetatable");
  lua_pop(L, 1);
}

}  // namespace cronhost::bindings
