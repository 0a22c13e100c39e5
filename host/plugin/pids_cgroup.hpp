// A cap on the tasks (threads) of each isolated run: a pids cgroup of its own, made by the
// host under the cgroup it runs in, that the runner joins before it loads the plugin. Neither
// seccomp (it cannot count) nor RLIMIT_NPROC (per user: a root runner ignores it, and runners
// of one user share it) can cap threads per run; a pids cgroup can, where the host may make
// cgroups (as root, or with a delegated cgroup). Without one, runs are not capped, and the
// log and `cronhost plugin check` say so. Thread-safe.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "util/status.hpp"

namespace cronhost::plugin {

// The tasks an isolated run may have: its main thread and the threads it starts. Plugins that
// use threads use a pool; 256 leaves room for one per core on big machines and stops a thread
// bomb (6,000+ threads at memory_mb: 128 without the cap) long before the kernel's limits.
constexpr uint32_t kMaxRunTasks = 256;

// The environment variable that names the run's cgroup.procs file to the runner.
constexpr const char* kRunCgroupVariable = "CRONHOST_RUN_CGROUP";

// One run's cgroup: removed (once its tasks are gone) by the destructor.
class RunCgroup {
 public:
  explicit RunCgroup(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~RunCgroup();
  RunCgroup(RunCgroup&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;
  RunCgroup& operator=(RunCgroup&&) = delete;

  // The file the runner writes itself into.
  std::filesystem::path procs_file() const { return dir_ / "cgroup.procs"; }

 private:
  std::filesystem::path dir_;
};

// Where this host's run cgroups go: `<the host's pids cgroup>/cronhost-<pid>/`, found once.
// nullopt when there is no pids controller the host may use; pids_cgroup_problem() says why.
const std::optional<std::filesystem::path>& pids_cgroup_base();
std::string pids_cgroup_problem();

// What is said in the log and by `cronhost plugin check` about the thread cap.
std::string pids_cgroup_summary(uint32_t max_tasks);

// A new cgroup holding at most `max_tasks` tasks; an error when the base exists but the
// cgroup cannot be made. Call only when pids_cgroup_base() has a value.
Result<RunCgroup> make_run_cgroup(uint32_t max_tasks);

}  // namespace cronhost::plugin
