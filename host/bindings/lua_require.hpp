// require(): Lua source modules from one folder (scripts/lib beside the job's script), text
// chunks only, each loaded once per state. Shared by the in-host sandbox and the runner
// process of isolated Lua runs. Per lua_State; not thread-safe.
#pragma once
#include <filesystem>
#include <lua.hpp>

namespace cronhost::bindings {

// Installs `require` as the global, served by `loader`, with a fresh table of loaded modules.
void open_require(lua_State* L, lua_CFunction loader);
// The body of a loader: require(name) from lib_dir/NAME.lua ('.' in NAME is a folder).
int require_from(lua_State* L, const std::filesystem::path& lib_dir);

}  // namespace cronhost::bindings
