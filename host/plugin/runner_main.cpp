// cronhost-plugin-runner: the child process of an isolated plugin run. The host starts it
// with the socket to the host as fd 3 and the plugin's output going to fd 1 and 2:
//
//   cronhost-plugin-runner run PLUGIN.so MEMORY_BYTES CPU_SECONDS DEADLINE_MS
//   cronhost-plugin-runner check PLUGIN.so     -> {"name","version","abi","description"} or an error
//
// It raises the sandbox (runner_sandbox.hpp), loads the plugin, and runs it with the host
// vtable whose calls travel to the host as frames (wire.hpp). The last frame is kDone with
// run()'s status and error. Single-threaded unless the plugin starts threads.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/host_api_table.hpp"
#include "plugin/runner_sandbox.hpp"
#include "plugin/shared_object.hpp"
#include "plugin/wire.hpp"

namespace cronhost::plugin {
namespace {

constexpr int kHostFd = 3;

// Calls served by the host over the socket; the deadline is kept here so should_stop()
// costs no round trip.
class RemoteRun final : public PluginRun {
 public:
  explicit RemoteRun(int64_t deadline_ms)
      : deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms)) {}

  Reply call(Call call) override {
    if (!write_all(kHostFd, encode_call(call))) return Reply::error(CRONHOST_EHOST, "lost the connection to the host");
    const auto frame = read_frame(kHostFd);
    auto reply = frame ? decode_reply(*frame) : std::nullopt;
    if (!reply) return Reply::error(CRONHOST_EHOST, "lost the connection to the host");
    if (reply->status < CRONHOST_OK || reply->status > CRONHOST_EHOST) reply->status = CRONHOST_EHOST;
    return *reply;
  }

  int64_t time_left_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now()).count();
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
};

void send_done(int status, const std::string& error) {
  write_all(kHostFd, encode_call(Call{Op::kDone, std::to_string(status), error, {}}));
}

int check(const char* path) {
  auto loaded = LoadedPlugin::open(path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.message().c_str());
    return 1;
  }
  const PluginInfo& info = loaded.value()->info();
  const nlohmann::json out = {
      {"name", info.name}, {"version", info.version}, {"abi", abi_text(info.abi_version)}, {"description", info.description}};
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

int run(const char* path, int64_t deadline_ms) {
  auto loaded = LoadedPlugin::open(path);
  if (!loaded) {
    send_done(CRONHOST_EHOST, loaded.message());
    return 0;
  }
  RemoteRun remote(deadline_ms);
  const int status = loaded.value()->run(remote.handle(), &host_api_table());
  std::fflush(nullptr);
  send_done(status, remote.error());
  return 0;
}

}  // namespace
}  // namespace cronhost::plugin

int main(int argc, char** argv) {
  using namespace cronhost::plugin;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "check" && argc == 3) || (mode == "run" && argc == 6))) {
    std::fprintf(stderr, "usage: cronhost-plugin-runner check PLUGIN | run PLUGIN MEMORY_BYTES CPU_SECONDS DEADLINE_MS\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep the lines printed before a crash
  SandboxLimits limits;
  if (mode == "run") {
    limits.memory_bytes = std::strtoull(argv[3], nullptr, 10);
    limits.cpu_seconds = std::strtoull(argv[4], nullptr, 10);
  }
  cronhost::Status walls = apply_limits(limits);
  if (walls) walls = install_syscall_filter();
  if (!walls) {
    if (mode == "run") send_done(CRONHOST_EHOST, "cannot isolate the plugin: " + walls.message());
    else std::fprintf(stderr, "cannot isolate the plugin: %s\n", walls.message().c_str());
    return mode == "run" ? 0 : 1;
  }
  return mode == "check" ? check(argv[2]) : run(argv[2], std::strtoll(argv[5], nullptr, 10));
}
