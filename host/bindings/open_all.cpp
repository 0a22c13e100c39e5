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

// __index of the globals table (globals, name): opens the module and answers with it.
int open_on_first_use(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING || !open_by_name(L, lua_tostring(L, 2))) return 0;
  lua_pushvalue(L, 2);
  lua_rawget(L, 1);
  return 1;
}

// Opens what is not open yet, so a walk of the globals (or a script's own metatable on
// them) sees the whole API and every library.
void open_the_rest(lua_State* L, int globals) {
  const auto open_if_missing = [L, globals](const char* name) {
    lua_pushstring(L, name);
    if (lua_rawget(L, globals) == LUA_TNIL) open_by_name(L, name);
    lua_pop(L, 1);
  };
  for (const auto& module : kModules) open_if_missing(module.name);
  for (const auto& library : run::kOnDemandLibraries) open_if_missing(library.name);
}

// __pairs of the globals. Upvalues: the stop check, the real `next` (the script may replace
// its own).
int pairs_after_opening(lua_State* L) {
  open_the_rest(L, 1);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// setmetatable(_G, mt) replaces the metatable that opens modules: open them all first.
// Upvalues: the stop check, the guarded setmetatable.
int setmetatable_opening_first(lua_State* L) {
  lua_pushglobaltable(L);
  const bool globals = lua_rawequal(L, 1, -1);
  lua_pop(L, 1);
  if (globals) open_the_rest(L, 1);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
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
  lua_pushcclosure(L, pairs_after_opening, 2);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, -2);
  run::push_stop_check(L, check);
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, setmetatable_opening_first, 2);
  lua_setglobal(L, "setmetatable");
  lua_pop(L, 1);
}

}  // namespace cronhost::bindings
