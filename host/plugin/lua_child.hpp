// The runner's side of an isolated Lua run (run.isolation: process): the script runs in a
// fresh Lua state of the runner process, with the safe libraries and a capped allocator like
// the host's sandbox, json, print (to the run's output), sleep and require of its own, and
// client.lua's proxies for every host API. One per runner process.
#pragma once
#include <cstddef>
#include <filesystem>

#include "plugin/remote_run.hpp"

namespace cronhost::plugin {

// Runs the script: CRONHOST_OK (its return value sent as the result), or CRONHOST_EFAILED
// with the reason given to remote.set_error.
int run_lua_script(RemoteRun& remote, const std::filesystem::path& script, const std::filesystem::path& lib_dir,
                   size_t memory_bytes);

}  // namespace cronhost::plugin
