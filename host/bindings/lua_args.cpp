#include "bindings/lua_args.hpp"

#include <nlohmann/json.hpp>

#include "api/printable.hpp"

#include "run/lua_sandbox.hpp"
#include "util/did_you_mean.hpp"

namespace cronhost::bindings {

int fail(lua_State* L, const std::string& message) {
  lua_pushnil(L);
  lua_pushstring(L, run::LuaSandbox::context(L).redact(message).c_str());
  return 2;
}

void raise(lua_State* L, const std::string& message) {
  lua_pushstring(L, run::LuaSandbox::context(L).redact(message).c_str());
  lua_error(L);
  std::abort();  // lua_error does not return
}

std::string printable(std::string_view text, size_t limit) { return api::printable(text, limit); }

TableArgs::TableArgs(lua_State* L, int index, std::string function, std::vector<std::string> known)
    : L_(L), index_(lua_absindex(L, index)), function_(std::move(function)) {
  if (!lua_istable(L, index_))
    error(std::string("expected a table of options, got ") + luaL_typename(L, index_));
  lua_pushnil(L);
  while (lua_next(L, index_)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) error("option keys must be names, got a " + std::string(luaL_typename(L, -1)));
    const std::string key = lua_tostring(L, -1);
    if (std::find(known.begin(), known.end(), key) == known.end())
      error("unknown field '" + key + "'" + did_you_mean_suffix(key, known));
  }
}

void TableArgs::error(const std::string& message) const { raise(L_, function_ + ": " + message); }

void TableArgs::type_error(const char* key, const char* expected, int index) const {
  error(std::string("field '") + key + "' must be " + expected + " (got " + luaL_typename(L_, index) + ")");
}

int TableArgs::push(const char* key) const { return lua_getfield(L_, index_, key); }

bool TableArgs::has(const char* key) const {
  const bool present = push(key) != LUA_TNIL;
  lua_pop(L_, 1);
  return present;
}

std::optional<std::string> TableArgs::string(const char* key, bool required) const {
  const int type = push(key);
  if (type == LUA_TNIL) {
    lua_pop(L_, 1);
    if (required) error(std::string("field '") + key + "' is required");
    return std::nullopt;
  }
  if (type != LUA_TSTRING) type_error(key, "a string", -1);
  size_t len = 0;
  const char* s = lua_tolstring(L_, -1, &len);
  std::string out(s, len);
  lua_pop(L_, 1);
  return out;
}

std::optional<double> TableArgs::number(const char* key) const {
  const int type = push(key);
  std::optional<double> out;
  if (type == LUA_TNUMBER) out = lua_tonumber(L_, -1);
  else if (type != LUA_TNIL) type_error(key, "a number", -1);
  lua_pop(L_, 1);
  return out;
}

std::optional<bool> TableArgs::boolean(const char* key) const {
  const int type = push(key);
  std::optional<bool> out;
  if (type == LUA_TBOOLEAN) out = lua_toboolean(L_, -1) != 0;
  else if (type != LUA_TNIL) type_error(key, "true or false", -1);
  lua_pop(L_, 1);
  return out;
}

std::vector<std::string> TableArgs::strings(const char* key) const {
  std::vector<std::string> out;
  const int type = push(key);
  if (type == LUA_TSTRING) {
    out.emplace_back(lua_tostring(L_, -1));
  } else if (type == LUA_TTABLE) {
    const lua_Integer n = luaL_len(L_, -1);
    for (lua_Integer i = 1; i <= n; ++i) {
      if (lua_geti(L_, -1, i) != LUA_TSTRING) type_error(key, "a string or a list of strings", -1);
      out.emplace_back(lua_tostring(L_, -1));
      lua_pop(L_, 1);
    }
  } else if (type != LUA_TNIL) {
    type_error(key, "a string or a list of strings", -1);
  }
  lua_pop(L_, 1);
  return out;
}

std::vector<std::pair<std::string, std::string>> TableArgs::string_map(const char* key) const {
  std::vector<std::pair<std::string, std::string>> out;
  const int type = push(key);
  if (type == LUA_TTABLE) {
    lua_pushnil(L_);
    while (lua_next(L_, -2)) {
      if (lua_type(L_, -2) != LUA_TSTRING || (lua_type(L_, -1) != LUA_TSTRING && lua_type(L_, -1) != LUA_TNUMBER))
        type_error(key, "a table of names to strings", -1);
      size_t name_len = 0, value_len = 0;  // with their lengths: a NUL must reach the checks, not end the text
      const char* name = lua_tolstring(L_, -2, &name_len);
      const char* value = lua_tolstring(L_, -1, &value_len);
      out.emplace_back(std::string(name, name_len), std::string(value, value_len));
      lua_pop(L_, 1);
    }
  } else if (type != LUA_TNIL) {
    type_error(key, "a table of names to strings", -1);
  }
  lua_pop(L_, 1);
  return out;
}

}  // namespace cronhost::bindings
