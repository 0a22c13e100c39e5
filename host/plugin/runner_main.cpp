// cronhost-plugin-runner: the child process of an isolated plugin run. The host starts it
// with the socket to the host as fd 3 and the plugin's output going to fd 1 and 2:
//
//   cronhost-plugin-runner run PLUGIN.so MEMORY_BYTES CPU_SECONDS DEADLINE_MS
//   cronhost-plugin-runner lua SCRIPT LIB_DIR LUA_MEMORY_BYTES MEMORY_BYTES CPU_SECONDS DEADLINE_MS
//   cronhost-plugin-runner check PLUGIN.so     -> {"name","version","abi_version","description"} or an error
//
// It raises the sandbox (runner_sandbox.hpp), then loads the plugin and runs it with the host
// vtable, or runs the Lua script with proxies of the Lua API (lua_child.hpp); either way the
// calls travel to the host as frames (wire.hpp). The last frame is kDone with the status and
// error. Single-threaded unless the plugin starts threads.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/host_api_table.hpp"
#include "plugin/lua_child.hpp"
#include "plugin/remote_run.hpp"
#include "plugin/runner_sandbox.hpp"
#include "plugin/shared_object.hpp"
#include "plugin/wire.hpp"

namespace cronhost::plugin {
namespace {

// A check only loads the plugin and runs its init(): it gets the default memory of a run and
// as many CPU seconds as the host waits for it.
constexpr uint64_t kCheckMemoryBytes = uint64_t{512} << 20;
constexpr uint64_t kCheckCpuSeconds = 10;

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
  cronhost::Status walls = apply_limits(limits);
  if (walls) walls = install_syscall_filter();
  if (!walls) {
    if (mode != "check") RemoteRun::send_done(CRONHOST_EHOST, "cannot isolate the run: " + walls.message());
    else std::fprintf(stderr, "cannot isolate the plugin: %s\n", walls.message().c_str());
    return mode == "check" ? 1 : 0;
  }
  if (mode == "lua") return run_script(argv);
  return mode == "check" ? check(argv[2]) : run(argv[2], std::strtoll(argv[5], nullptr, 10));
}
