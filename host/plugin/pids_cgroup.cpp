#include "plugin/pids_cgroup.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cronhost::plugin {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

bool write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// This process's cgroup of the pids controller: cgroup v1 (a hierarchy with "pids" among its
// mount options) or v2 (the unified hierarchy, with pids among its controllers).
Result<fs::path> own_pids_cgroup() {
  std::string v1_path, v2_path;
  bool have_v1 = false, have_v2 = false;
  {
    std::ifstream cgroups("/proc/self/cgroup");
    for (std::string line; std::getline(cgroups, line);) {
      const auto first = line.find(':'), second = line.find(':', first + 1);
      if (first == std::string::npos || second == std::string::npos) continue;
      const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
      if (controllers.empty()) {
        have_v2 = true;
        v2_path = path;
      }
      for (const auto& c : split(controllers, ','))
        if (c == "pids") {
          have_v1 = true;
          v1_path = path;
        }
    }
  }
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    // id parent major:minor root mount-point options [optional fields] - type source super-options
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const auto fields = split(line.substr(0, dash), ' ');
    const auto tail = split(line.substr(dash + 3), ' ');
    if (fields.size() < 5 || tail.size() < 3) continue;
    const std::string& root = fields[3];
    const std::string& mount_point = fields[4];
    const auto inside = [&](const std::string& path) -> std::optional<fs::path> {
      if (root == "/") return fs::path(mount_point) / fs::path(path).relative_path();
      if (path.rfind(root, 0) == 0) return fs::path(mount_point) / fs::path(path.substr(root.size())).relative_path();
      return std::nullopt;
    };
    if (tail[0] == "cgroup" && have_v1) {
      for (const auto& option : split(tail[2], ','))
        if (option == "pids")
          if (auto dir = inside(v1_path)) return *dir;
    }
    if (tail[0] == "cgroup2" && have_v2 && !have_v1) {
      auto dir = inside(v2_path);
      if (!dir) continue;
      for (const auto& c : split(read_file(*dir / "cgroup.controllers"), ' '))
        if (c == "pids" || c == "pids\n") return *dir;
      return Result<fs::path>::error("the cgroup v2 hierarchy at " + mount_point + " does not offer the pids controller to " +
                                     dir->string());
    }
  }
  return Result<fs::path>::error("this system has no pids cgroup controller mounted");
}

// Removes cgroups left by hosts that are gone (a crash or SIGKILL skips the cleanup).
void remove_stale(const fs::path& parent) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("cronhost-", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + 9, nullptr, 10));
    if (pid <= 0 || (::kill(pid, 0) == 0 || errno == EPERM)) continue;
    for (const auto& run : fs::directory_iterator(entry.path(), ec))
      if (run.is_directory()) ::rmdir(run.path().c_str());
    ::rmdir(entry.path().c_str());
  }
}

// Found once, in place (a copy would remove the folder when the original goes).
struct Base {
  std::optional<fs::path> dir;
  std::string problem;

  Base() {
    auto own = own_pids_cgroup();
    if (!own) {
      problem = own.message();
      return;
    }
    remove_stale(*own);
    const fs::path made = *own / ("cronhost-" + std::to_string(::getpid()));
    if (::mkdir(made.c_str(), 0755) != 0 && errno != EEXIST) {
      problem = "cannot make a cgroup under " + own->string() + ": " + std::strerror(errno);
      return;
    }
    // cgroup v2 hands controllers down explicitly; v1 has no such file.
    if (fs::exists(made / "cgroup.subtree_control") && !write_file(made / "cgroup.subtree_control", "+pids")) {
      problem = "cannot enable the pids controller in " + made.string();
      ::rmdir(made.c_str());
      return;
    }
    dir = made;
  }
  ~Base() {
    if (dir) ::rmdir(dir->c_str());  // at exit: empty by then, else left for the next host
  }
  Base(const Base&) = delete;
  Base& operator=(const Base&) = delete;
};

const Base& base() {
  static const Base found;
  return found;
}

}  // namespace

RunCgroup::~RunCgroup() {
  if (dir_.empty()) return;
  // The runner was reaped, so its tasks are gone; the kernel may still be finishing a
  // thread's exit for a moment.
  for (int attempt = 0; attempt < 100 && ::rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

const std::optional<fs::path>& pids_cgroup_base() { return base().dir; }
std::string pids_cgroup_problem() { return base().problem; }

std::string pids_cgroup_summary(uint32_t max_tasks) {
  if (!pids_cgroup_base())
    return "threads of an isolated run are not capped: " + pids_cgroup_problem() +
           " (run the host as root or give it a delegated cgroup)";
  return "threads of an isolated run capped at " + std::to_string(max_tasks) + " tasks by a pids cgroup under " +
         pids_cgroup_base()->string();
}

Result<RunCgroup> make_run_cgroup(uint32_t max_tasks) {
  static std::atomic<uint64_t> made{0};
  const fs::path dir = *pids_cgroup_base() / ("run-" + std::to_string(++made));
  if (::mkdir(dir.c_str(), 0755) != 0)
    return Result<RunCgroup>::error("cannot make the run's cgroup " + dir.string() + ": " + std::strerror(errno));
  RunCgroup cgroup(dir);
  if (!write_file(dir / "pids.max", std::to_string(max_tasks)))
    return Result<RunCgroup>::error("cannot set pids.max in " + dir.string());
  return cgroup;
}

}  // namespace cronhost::plugin
