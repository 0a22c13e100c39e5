// Running a native plugin job (or a Lua job with isolation: process): inline in the host
// process, or isolated in a runner process
// (cronhost-plugin-runner) that reaches the host's capabilities over a socket. Both end in a
// RunResult the store records; a plugin's crash, exit or hang in a runner is the run's
// failure, never the host's. Each call belongs to the thread running the job.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "plugin/shared_object.hpp"
#include "run/run_context.hpp"

namespace cronhost::plugin {

// Runs a loaded plugin on this thread. Only trusted plugins: a crash here is the host's.
// The run is stopped cooperatively (should_stop); one that overstays is reported timed out.
run::RunResult run_inline(run::RunContext& ctx, const LoadedPlugin& plugin);

struct Isolation {
  std::filesystem::path runner;   // the cronhost-plugin-runner executable
  uint64_t memory_bytes = 0;      // address-space limit of the child
  std::string run_as;             // "uid:gid" the child becomes (run_as:); empty: the host's user
};

// Runs the plugin file in a child process under `isolation`, serving its calls until it
// ends; kills it at the deadline or on cancel.
run::RunResult run_isolated(run::RunContext& ctx, const std::filesystem::path& plugin_file, const Isolation& isolation);

// Runs the job's Lua script in a child process the same way (see lua_child.hpp); its API
// calls are served here by the host's own bindings.
run::RunResult run_lua_isolated(run::RunContext& ctx, const Isolation& isolation);

}  // namespace cronhost::plugin
