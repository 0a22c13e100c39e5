// cronhost-plugin-runner: the child process of an isolated plugin run. The host starts it
// with the socket to the host as fd 3 and the plugin's output going to fd 1 and 2:
//
//   cronhost-plugin-runner run PLUGIN.so MEMORY_BYTES CPU_SECONDS DEADLINE_MS
//   cronhost-plugin-runner lua SCRIPT LIB_DIR LUA_MEMORY_BYTES MEMORY_BYTES CPU_SECONDS DEADLINE_MS
//   cronhost-plugin-runner check PLUGIN.so     -> {"name","version","abi_version","description"} or an error
//
// $CRONHOST_RUN_CGROUP, when set, is the cgroup.procs file of the run's pids cgroup
// (pids_cgroup.hpp), which caps its threads; $CRONHOST_RUN_AS ("uid:gid") the user to become.
// It raises the walls (it joins the cgroup, sets limits, gives up dumpability and every
// capability, confines reads with Landlock, installs the seccomp filter: runner_privileges.hpp,
// landlock.hpp, runner_sandbox.hpp), then loads the plugin and runs it with the host
// vtable, or runs the Lua script with proxies of the Lua API (lua_child.hpp); either way the
// calls travel to the host as frames (wire.hpp). The last frame is kDone with the status and
// error. Single-threaded unless the plugin starts threads.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/host_api_table.hpp"
#include "plugin/landlock.hpp"
#include "plugin/lua_child.hpp"
#include "plugin/pids_cgroup.hpp"
#include "plugin/remote_run.hpp"
#include "plugin/runner_privileges.hpp"
#include "plugin/runner_sandbox.hpp"
#include "plugin/shared_object.hpp"
#include "plugin/wire.hpp"

namespace cronhost::plugin {
namespace {

// A check only loads the plugin and runs its init(): it gets the default memory of a run and
// as many CPU seconds as the host waits for it.
constexpr uint64_t kCheckMemoryBytes = uint64_t{512} << 20;
constexpr uint64_t kCheckCpuSeconds = 10;

// What the run may read besides the system's libraries: the plugin, or the script and its
// require() folder.
std::vector<std::string> readable_paths(const std::string& mode, char** argv) {
  std::vector<std::string> paths = system_readable_paths();
  paths.emplace_back(argv[2]);
  if (mode == "lua") paths.emplace_back(argv[3]);
  return paths;
}

// Every wall, in an order where each step still has the rights it needs: the cgroup and the
// user switch while root, limits before the capabilities go, Landlock after no_new_privs,
// the filter last.
cronhost::Status raise_walls(const std::string& mode, char** argv, const SandboxLimits& limits) {
  const char* cgroup = std::getenv(kRunCgroupVariable);
  cronhost::Status walls = cgroup && *cgroup ? join_cgroup(cgroup) : cronhost::Status::ok();
  const char* run_as = std::getenv(kRunAsVariable);
  if (walls && run_as && *run_as) walls = switch_user(run_as);
  if (walls) walls = apply_limits(limits);
  if (walls) walls = drop_privileges();
#if !defined(__SANITIZE_ADDRESS__)  // ASan reads /proc/self/maps to report an error
  if (walls) walls = restrict_file_access(readable_paths(mode, argv));
#endif
  if (walls) walls = install_syscall_filter();
  return walls;
}

int check(const char* path) {
  auto loaded = LoadedPlugin::open(path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.message().c_str());
    return 1;
  }
  const PluginInfo& info = loaded.value()->info();
  const nlohmann::json out = {
      {"name", info.name}, {"version", info.version}, {"abi_version", info.abi_version}, {"description", info.description}};
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

int run_script(char** argv) {
  RemoteRun remote(std::strtoll(argv[7], nullptr, 10));
  const int status = run_lua_script(remote, argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  std::fflush(nullptr);
  RemoteRun::send_done(status, remote.error());
  return 0;
}

int run(const char* path, int64_t deadline_ms) {
  auto loaded = LoadedPlugin::open(path);
  if (!loaded) {
    RemoteRun::send_done(CRONHOST_EHOST, loaded.message());
    return 0;
  }
  RemoteRun remote(deadline_ms);
  const int status = loaded.value()->run(remote.handle(), &host_api_table());
  std::fflush(nullptr);
  RemoteRun::send_done(status, remote.error());
  return 0;
}

}  // namespace
}  // namespace cronhost::plugin

#if defined(__SANITIZE_ADDRESS__)
// In sanitizer builds: LeakSanitizer's exit check stops the world with calls the seccomp
// filter denies, so it is off in the runner (the host's tests still check for leaks).
extern "C" int __lsan_is_turned_off() { return 1; }
#endif

int main(int argc, char** argv) {
  using namespace cronhost::plugin;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "check" && argc == 3) || (mode == "run" && argc == 6) || (mode == "lua" && argc == 8))) {
    std::fprintf(stderr,
                 "usage: cronhost-plugin-runner check PLUGIN | run PLUGIN MEMORY_BYTES CPU_SECONDS DEADLINE_MS\n"
                 "       cronhost-plugin-runner lua SCRIPT LIB_DIR LUA_MEMORY_BYTES MEMORY_BYTES CPU_SECONDS DEADLINE_MS\n");
    return 2;
  }
  // Descriptors the host opened without close-on-exec (a library's sockets, a log file)
  // must not reach the plugin: keep stdin, stdout, stderr and the socket to the host.
  ::close_range(mode == "check" ? 3 : kHostFd + 1, ~0U, 0);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep the lines printed before a crash
  SandboxLimits limits{kCheckMemoryBytes, kCheckCpuSeconds};
  if (mode != "check") {
    const int at = mode == "run" ? 3 : 5;  // MEMORY_BYTES CPU_SECONDS follow
    limits.memory_bytes = std::strtoull(argv[at], nullptr, 10);
    limits.cpu_seconds = std::strtoull(argv[at + 1], nullptr, 10);
  }
#if defined(__SANITIZE_ADDRESS__)
  limits.memory_bytes = 0;  // ASan reserves terabytes of address space for its shadow memory
#endif
  const cronhost::Status walls = raise_walls(mode, argv, limits);
  if (!walls) {
    if (mode != "check") RemoteRun::send_done(CRONHOST_EHOST, "cannot isolate the run: " + walls.message());
    else std::fprintf(stderr, "cannot isolate the plugin: %s\n", walls.message().c_str());
    return mode == "check" ? 1 : 0;
  }
  if (mode == "lua") return run_script(argv);
  return mode == "check" ? check(argv[2]) : run(argv[2], std::strtoll(argv[5], nullptr, 10));
}
