#include "plugin/plugin_run.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/capability_bridge.hpp"
#include "plugin/host_api_table.hpp"
#include "plugin/pids_cgroup.hpp"
#include "plugin/runner_privileges.hpp"
#include "plugin/runner_spawn.hpp"
#include "plugin/wire.hpp"

namespace cronhost::plugin {
namespace {

using store::RunStatus;

// The run's outcome once run() has returned `status` with the message `error`.
run::RunResult outcome(run::RunContext& ctx, const CapabilityBridge& bridge, int status, const std::string& error) {
  if (ctx.stop != run::RunContext::Stop::kNone || (status == CRONHOST_ESTOP && ctx.note_stop())) return run::stopped_result(ctx);
  if (status != CRONHOST_OK)
    return {RunStatus::kFailed, "",
            ctx.redact(error.empty() ? "the plugin's run returned " + std::string(status_name(status)) : error)};
  if (!bridge.refused_result().empty())
    return {RunStatus::kFailed, "", "the plugin returned success but its result was refused (" + bridge.refused_result() + ")"};
  return {RunStatus::kSucceeded, bridge.result().value_or(""), ""};
}

// Calls served right here, on the run's thread.
class InlineRun final : public PluginRun {
 public:
  InlineRun(run::RunContext& ctx, CapabilityBridge& bridge) : ctx_(ctx), bridge_(bridge) {}
  Reply call(Call call) override { return bridge_.serve(call); }
  int64_t time_left_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.deadline - std::chrono::steady_clock::now()).count();
  }
  // Exactly the test note_stop() makes, so a plugin told to stop is recorded as stopped.
  bool stop_requested() const override { return ctx_.cancelled() || std::chrono::steady_clock::now() >= ctx_.deadline; }

 private:
  run::RunContext& ctx_;
  CapabilityBridge& bridge_;
};

}  // namespace

run::RunResult run_inline(run::RunContext& ctx, const LoadedPlugin& plugin) {
  CapabilityBridge bridge(ctx, CapabilityBridge::Kind::kPlugin);
  InlineRun run(ctx, bridge);
  const int status = plugin.run(run.handle(), &host_api_table());
  ctx.note_stop();  // a plugin that ignored should_stop still ends as timed out or cancelled
  return outcome(ctx, bridge, status, run.error());
}

namespace {

// A file descriptor closed at the end of its scope.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* description = sigdescr_np(sig);
  return std::string("SIG") + (abbrev ? abbrev : std::to_string(sig)) + " (" + (description ? description : "?") + ")";
}

// The plugin's stdout and stderr, redacted a line at a time (a secret split across two
// reads is still found), into the run's output.
// How long a child that has sent its last message may take to exit.
constexpr auto kExitGrace = std::chrono::seconds(1);

class OutputLines {
 public:
  static constexpr size_t kLongLine = 4096;  // a page: lines are shorter, binary junk is not
  explicit OutputLines(run::RunContext& ctx) : ctx_(ctx) {}
  void add(const char* data, size_t size) {
    pending_.append(data, size);
    const size_t end = pending_.rfind('\n');
    if (end == std::string::npos && pending_.size() < kLongLine) return;
    // A line without end is cut where no secret is split.
    const size_t cut = end != std::string::npos ? end + 1 : ctx_.redactor.safe_cut(pending_);
    ctx_.output.append(ctx_.redact(pending_.substr(0, cut)));
    pending_.erase(0, cut);
  }
  void flush() {
    if (!pending_.empty()) ctx_.output.append(ctx_.redact(pending_) + "\n");
    pending_.clear();
  }

 private:
  run::RunContext& ctx_;
  std::string pending_;
};

// Writes a reply to the child without ever blocking past the run's deadline: a plugin that
// stops reading cannot hold the host's thread.
bool send_reply(run::RunContext& ctx, int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    if (ctx.note_stop()) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
  return true;
}

// Runs the runner with `args` (then MEMORY_BYTES CPU_SECONDS DEADLINE_MS) in a pids cgroup of
// its own where the host has one, serving its calls until it ends; kills it at the deadline
// or on cancel.
run::RunResult serve_runner(run::RunContext& ctx, const Isolation& isolation, std::vector<std::string> args,
                            CapabilityBridge::Kind kind) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return {RunStatus::kFailed, "", std::string("socketpair: ") + std::strerror(errno)};
  Fd host_end(pair[0]), child_end(above_standard(pair[1]));
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {RunStatus::kFailed, "", std::string("pipe: ") + std::strerror(errno)};
  Fd output_read(pipe_fds[0]), output_write(above_standard(pipe_fds[1]));

  const auto timeout_s = std::chrono::ceil<std::chrono::seconds>(ctx.job.timeout).count();
  const int64_t left_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - std::chrono::steady_clock::now()).count();
  args.push_back(std::to_string(isolation.memory_bytes));
  args.push_back(std::to_string(timeout_s + 1));
  args.push_back(std::to_string(std::max<int64_t>(left_ms, 0)));
  // Removed when this function returns, after the runner is reaped.
  std::optional<RunCgroup> cgroup;
  if (pids_cgroup_base()) {
    auto made = make_run_cgroup(kMaxRunTasks);
    if (!made) return {RunStatus::kFailed, "", "cannot cap the run's threads: " + made.message()};
    cgroup.emplace(std::move(made).value());
  }
  std::vector<std::string> env;
  if (cgroup) env.push_back(std::string(kRunCgroupVariable) + "=" + cgroup->procs_file().string());
  if (!isolation.run_as.empty()) env.push_back(std::string(kRunAsVariable) + "=" + isolation.run_as);
  auto pid = spawn_runner(isolation.runner, args, output_write.fd, child_end.fd, env);
  if (!pid) return {RunStatus::kFailed, "", pid.message()};
  child_end.reset();
  output_write.reset();
  fcntl(host_end.fd, F_SETFL, O_NONBLOCK);
  fcntl(output_read.fd, F_SETFL, O_NONBLOCK);

  CapabilityBridge bridge(ctx, kind);
  OutputLines output(ctx);
  FrameBuffer frames;
  std::optional<Call> done;
  std::string broken;  // why the child's frames made no sense
  bool socket_open = true, output_open = true;
  char buffer[65536];
  std::chrono::steady_clock::time_point done_at;
  while ((socket_open || output_open) && broken.empty()) {
    if (ctx.note_stop()) break;
    // After its last message the child has a moment to exit (shutdown(), destructors); one
    // that hangs there is killed, and its run keeps the outcome it reported.
    if (done && std::chrono::steady_clock::now() - done_at > kExitGrace) break;
    pollfd fds[2] = {{socket_open ? host_end.fd : -1, POLLIN, 0}, {output_open ? output_read.fd : -1, POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - std::chrono::steady_clock::now());
    // Wake at least every 100 ms to notice a cancel.
    if (::poll(fds, 2, static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 100))) < 0 && errno != EINTR) break;
    if (output_open && fds[1].revents) {
      const ssize_t n = ::read(output_read.fd, buffer, sizeof buffer);
      if (n > 0) output.add(buffer, static_cast<size_t>(n));
      else if (n == 0 || errno != EAGAIN) output_open = false;
    }
    if (socket_open && fds[0].revents) {
      const ssize_t n = ::read(host_end.fd, buffer, sizeof buffer);
      if (n > 0) frames.append(buffer, static_cast<size_t>(n));
      else if (n == 0 || errno != EAGAIN) socket_open = false;
      while (auto frame = frames.next()) {
        auto call = decode_call(*frame);
        if (!call || done) {
          broken = "the plugin runner sent a malformed message";
          break;
        }
        if (call->op == Op::kDone) {
          done = std::move(call);
          done_at = std::chrono::steady_clock::now();
          continue;
        }
        if (!send_reply(ctx, host_end.fd, encode_reply(bridge.serve(*call)))) socket_open = false;
      }
      if (frames.oversized()) broken = "the plugin runner sent a message over " + std::to_string(kMaxFrameBytes >> 20) + " MiB";
    }
  }

  // The child is finished, or must be: past the deadline, cancelled or broken.
  const std::string who = kind == CapabilityBridge::Kind::kPlugin ? "the plugin" : "the script's process";
  int wait_status = 0;
  if (socket_open || output_open || !broken.empty()) ::kill(*pid, SIGKILL);
  // A child that closed its descriptors may still be running: it gets until the deadline.
  // Its pidfd turns readable the moment it exits, so the usual wait costs no polling delay.
  Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
  for (;;) {
    const pid_t reaped = ::waitpid(*pid, &wait_status, WNOHANG);
    if (reaped == *pid || (reaped < 0 && errno != EINTR)) break;
    if (reaped != 0) continue;
    if (ctx.note_stop() || (done && std::chrono::steady_clock::now() - done_at > kExitGrace)) ::kill(*pid, SIGKILL);
    pollfd p{exited.fd, POLLIN, 0};
    if (exited.fd < 0 || ::poll(&p, 1, 100) < 0) ::usleep(1000);
  }
  output.flush();
  if (!done && ctx.stop != run::RunContext::Stop::kNone) return run::stopped_result(ctx);
  if (!broken.empty()) return {RunStatus::kFailed, "", broken};
  if (done) {
    const int status = std::atoi(done->a.c_str());
    if (status == CRONHOST_EHOST && !done->b.empty()) return {RunStatus::kFailed, "", ctx.redact(done->b)};
    return outcome(ctx, bridge, status, done->b);
  }
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    if (sig == SIGXCPU)
      return {RunStatus::kFailed, "", who + " used up its CPU time limit (" + std::to_string(timeout_s + 1) + " s)"};
    return {RunStatus::kFailed, "", who + " crashed: killed by " + signal_text(sig)};
  }
  return {RunStatus::kFailed, "",
          who + " exited with status " + std::to_string(WEXITSTATUS(wait_status)) + " before its run returned"};
}

}  // namespace

run::RunResult run_isolated(run::RunContext& ctx, const std::filesystem::path& plugin_file, const Isolation& isolation) {
  return serve_runner(ctx, isolation, {"run", plugin_file.string()}, CapabilityBridge::Kind::kPlugin);
}

run::RunResult run_lua_isolated(run::RunContext& ctx, const Isolation& isolation) {
  return serve_runner(ctx, isolation,
                      {"lua", ctx.job.lua_script, ctx.lib_dir().string(), std::to_string(ctx.limits.memory_bytes)},
                      CapabilityBridge::Kind::kLuaScript);
}

}  // namespace cronhost::plugin
