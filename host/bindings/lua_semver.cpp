// semver: semantic versions (SemVer 2.0.0; a leading "v" is accepted) and npm-style constraints.
//
//   local v = semver.parse("v1.4.0-rc.2+build.7")   -- {major=1, minor=4, patch=0, prerelease={"rc", "2"},
//                                                   --  build="build.7", text="1.4.0-rc.2+build.7"}
//   assert(semver.parse("1.4") == nil)               -- nil, 'not a semantic version: "1.4"'
//   if semver.compare(latest, current) > 0 then ... end             -- -1, 0 or 1
//   if semver.satisfies("1.4.2", ">=1.2.0 <2.0.0 || ^3.1") then ... end
//   local tag = semver.latest(tags, {prerelease = false, constraint = "^1.2"})  -- e.g. "v1.4.0", or nil
//
// build is nil when absent. latest() returns the tag as written and ignores tags that are not
// versions ("latest", "sha-abc"). A bad version given to compare or satisfies, or a bad
// constraint, raises an error naming it: those are mistakes in the script, not in the world.
#include <limits>

#include "api/semver.hpp"
#include "bindings/open_all.hpp"

namespace cronhost::bindings {
namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s.substr(0, 100)) + "\""; }

api::Version check_version(lua_State* L, int arg) {
  size_t len = 0;
  const char* text = luaL_checklstring(L, arg, &len);
  auto v = api::parse_version(std::string_view(text, len));
  if (!v) luaL_argerror(L, arg, ("not a semantic version: " + quoted(std::string_view(text, len))).c_str());
  return std::move(*v);
}

api::Constraint check_constraint(lua_State* L, int arg, std::string_view text) {
  auto constraint = api::Constraint::parse(text);
  if (!constraint) luaL_argerror(L, arg, constraint.message().c_str());
  return std::move(constraint).value();
}

// Lua integers are signed 64-bit: numbers beyond 2^63-1 (legal, never seen) become floats.
void push_number(lua_State* L, uint64_t n) {
  if (n <= static_cast<uint64_t>(std::numeric_limits<lua_Integer>::max())) lua_pushinteger(L, static_cast<lua_Integer>(n));
  else lua_pushnumber(L, static_cast<lua_Number>(n));
}

int semver_parse(lua_State* L) {
  size_t len = 0;
  const char* text = luaL_checklstring(L, 1, &len);
  auto v = api::parse_version(std::string_view(text, len));
  if (!v) {
    lua_pushnil(L);
    lua_pushstring(L, ("not a semantic version: " + quoted(std::string_view(text, len))).c_str());
    return 2;
  }
  lua_createtable(L, 0, 6);
  push_number(L, v->major);
  lua_setfield(L, -2, "major");
  push_number(L, v->minor);
  lua_setfield(L, -2, "minor");
  push_number(L, v->patch);
  lua_setfield(L, -2, "patch");
  lua_createtable(L, static_cast<int>(v->prerelease.size()), 0);
  for (size_t i = 0; i < v->prerelease.size(); ++i) {
    lua_pushlstring(L, v->prerelease[i].data(), v->prerelease[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "prerelease");
  if (!v->build.empty()) {
    lua_pushlstring(L, v->build.data(), v->build.size());
    lua_setfield(L, -2, "build");
  }
  lua_pushstring(L, v->text().c_str());
  lua_setfield(L, -2, "text");
  return 1;
}

int semver_compare(lua_State* L) {
  const api::Version a = check_version(L, 1);
  const api::Version b = check_version(L, 2);
  lua_pushinteger(L, api::compare(a, b));
  return 1;
}

int semver_satisfies(lua_State* L) {
  const api::Version v = check_version(L, 1);
  size_t len = 0;
  const char* text = luaL_checklstring(L, 2, &len);
  const api::Constraint constraint = check_constraint(L, 2, std::string_view(text, len));
  lua_pushboolean(L, constraint.allows(v));
  return 1;
}

// semver.latest(tags [, {prerelease = bool, constraint = string}])
int semver_latest(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  std::vector<std::string> tags;
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, 1));
  for (lua_Integer i = 1; i <= n; ++i) {
    size_t len = 0;
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
      return luaL_argerror(L, 1, ("tags[" + std::to_string(i) + "] is a " + luaL_typename(L, -1) + ", not a string").c_str());
    const char* tag = lua_tolstring(L, -1, &len);
    tags.emplace_back(tag, len);
    lua_pop(L, 1);
  }
  bool prerelease = false;
  std::optional<api::Constraint> constraint;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    // Unknown keys raise, so a misspelt option ({pre = true}) is not silently ignored.
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      const char* key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
      if (std::string_view(key) == "prerelease") {
        prerelease = lua_toboolean(L, -1);
      } else if (std::string_view(key) == "constraint") {
        if (lua_type(L, -1) != LUA_TSTRING) return luaL_argerror(L, 2, "constraint must be a string, e.g. \"^1.2\"");
        size_t len = 0;
        const char* text = lua_tolstring(L, -1, &len);
        constraint = check_constraint(L, 2, std::string_view(text, len));
      } else {
        return luaL_argerror(L, 2, ("unknown option " + quoted(key) + " (expected prerelease or constraint)").c_str());
      }
      lua_pop(L, 1);
    }
  }
  auto tag = api::latest_tag(tags, prerelease, constraint ? &*constraint : nullptr);
  if (!tag) lua_pushnil(L);
  else lua_pushlstring(L, tag->data(), tag->size());
  return 1;
}

const luaL_Reg kSemverFunctions[] = {{"parse", semver_parse},
                                     {"compare", semver_compare},
                                     {"satisfies", semver_satisfies},
                                     {"latest", semver_latest},
                                     {nullptr, nullptr}};

}  // namespace

void open_semver(lua_State* L) {
  luaL_newlib(L, kSemverFunctions);
  lua_setglobal(L, "semver");
}

}  // namespace cronhost::bindings
