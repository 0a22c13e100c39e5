#include "bindings/lua_require.hpp"

#include <cctype>
#include <string>
#include <string_view>

#include "run/script_cache.hpp"

namespace cronhost::bindings {
namespace {

int loaded_key = 0;  // registry table of modules already required

bool valid_module_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string_view::npos)
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

}  // namespace

int require_from(lua_State* L, const std::filesystem::path& lib_dir) {
  const std::string name = luaL_checkstring(L, 1);
  if (!valid_module_name(name))
    return luaL_argerror(L, 1, "a module name is letters, digits, '_', '-' and '.' (scripts/lib/NAME.lua)");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &loaded_key);
  if (lua_getfield(L, -1, name.c_str()) != LUA_TNIL) return 1;
  lua_pop(L, 1);

  std::string relative = name;
  for (char& c : relative)
    if (c == '.') c = '/';
  const std::filesystem::path path = lib_dir / (relative + ".lua");
  std::string read_error;
  const auto text = run::read_script(path, read_error);
  if (!text) return luaL_error(L, "module '%s' not found (looked for %s)", name.c_str(), path.string().c_str());
  const std::string& source = *text;
  const std::string chunk_name = "@lib/" + relative + ".lua";
  if (luaL_loadbufferx(L, source.data(), source.size(), chunk_name.c_str(), "t") != LUA_OK) return lua_error(L);
  lua_pushstring(L, name.c_str());
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name.c_str());
  return 1;
}

void open_require(lua_State* L, lua_CFunction loader) {
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &loaded_key);
  lua_pushcfunction(L, loader);
  lua_setglobal(L, "require");
}

}  // namespace cronhost::bindings
