#include "plugin/plugin_catalog.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "plugin/runner_privileges.hpp"
#include "plugin/runner_spawn.hpp"
#include "util/own_executable.hpp"

namespace cronhost::plugin {
namespace fs = std::filesystem;
namespace {

// The running executable's folder, absolute (the working folder if /proc cannot say).
fs::path executable_dir() {
  if (auto self = own_executable()) return self->parent_path();
  std::error_code ec;
  return fs::current_path(ec);
}

// A plugin that has not answered a check in this long is treated as broken.
constexpr auto kCheckTimeout = std::chrono::seconds(10);

// FNV-1a over the file: change detection, not security (the file is trusted to be the
// operator's). The content is read anyway to make the snapshot.
Result<std::string> read_file(const fs::path& path, std::string& hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<std::string>::error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : content) h = (h ^ c) * 1099511628211ULL;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  hash = text;
  return content;
}

}  // namespace

PluginBuild::~PluginBuild() {
  loaded_.reset();
  std::error_code ec;
  fs::remove(snapshot_, ec);
}

Result<std::shared_ptr<LoadedPlugin>> PluginBuild::loaded() const {
  std::lock_guard lock(mutex_);
  if (!loaded_ && load_error_.empty()) {
    auto opened = LoadedPlugin::open(snapshot_);
    if (opened) loaded_ = opened.value();
    else load_error_ = opened.message();
  }
  if (!loaded_) return Result<std::shared_ptr<LoadedPlugin>>::error(load_error_);
  return loaded_;
}

Result<PluginInfo> check_plugin(const fs::path& runner, const fs::path& file, const std::string& run_as) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Result<PluginInfo>::error(std::string("pipe: ") + std::strerror(errno));
  const int write_end = above_standard(out[1]);
  std::vector<std::string> env;
  if (!run_as.empty()) env.push_back(std::string(kRunAsVariable) + "=" + run_as);
  auto spawned = spawn_runner(runner, {"check", file.string()}, write_end, -1, env);
  ::close(write_end);
  if (!spawned) {
    ::close(out[0]);
    return Result<PluginInfo>::error(spawned.message());
  }
  const pid_t pid = spawned.value();
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + kCheckTimeout;
  bool timed_out = false;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{out[0], POLLIN, 0};
    const int ready = left.count() <= 0 ? 0 : ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = true;
      break;
    }
    const ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (text.size() < 65536) text.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (timed_out) return Result<PluginInfo>::error("loading it did not finish within 10 s");
  if (WIFSIGNALED(status))
    return Result<PluginInfo>::error(std::string("loading it crashed the checker (") + strsignal(WTERMSIG(status)) + ")" +
                                     (text.empty() ? "" : ": " + text));
  if (WEXITSTATUS(status) != 0) return Result<PluginInfo>::error(text.empty() ? "the check failed" : text);
  const auto info = nlohmann::json::parse(text, nullptr, false);
  if (!info.is_object()) return Result<PluginInfo>::error("the checker printed something unexpected: " + text);
  return PluginInfo{info.value("name", ""), info.value("version", ""), info.value("description", ""),
                    info.value("abi_version", uint32_t{0})};
}

Result<fs::path> find_runner() {
  if (const char* env = std::getenv("CRONHOST_PLUGIN_RUNNER"); env && *env) return fs::path(env);
  std::error_code ec;
  // Beside the host binary: libexec/cronhost/ in an install and in the build folder alike.
  const fs::path beside = executable_dir() / "cronhost-plugin-runner";
  if (fs::is_regular_file(beside, ec)) return beside;
  return Result<fs::path>::error("cronhost-plugin-runner not found: looked for " + beside.string() +
                                 " (set CRONHOST_PLUGIN_RUNNER to its path)");
}

fs::path runner_or_missing(const Result<fs::path>& found) {
  return found ? found.value() : executable_dir() / "cronhost-plugin-runner";
}

PluginCatalog::PluginCatalog(fs::path snapshot_dir, fs::path runner, std::string run_as)
    : snapshot_dir_(std::move(snapshot_dir)), runner_(std::move(runner)), run_as_(std::move(run_as)) {
  std::error_code ec;
  fs::create_directories(snapshot_dir_, ec);
  // Only the host may put code here; runs under run_as may open a snapshot they are named.
  fs::permissions(snapshot_dir_, run_as_.empty() ? fs::perms::owner_all : fs::perms::owner_all | fs::perms::others_exec, ec);
  for (const auto& entry : fs::directory_iterator(snapshot_dir_, ec)) fs::remove_all(entry.path(), ec);
}

PluginCatalog::~PluginCatalog() {
  builds_.clear();
  std::error_code ec;
  fs::remove_all(snapshot_dir_, ec);
}

Result<std::shared_ptr<const PluginBuild>> PluginCatalog::build(const fs::path& source, const std::string& content,
                                                                 const std::string& hash) {
  using R = Result<std::shared_ptr<const PluginBuild>>;
  // Unique names: the same content may come back while a run still holds an older snapshot.
  const fs::path snapshot = snapshot_dir_ / (hash + "-" + std::to_string(++snapshots_made_) + "-" + source.filename().string());
  {
    std::ofstream out(snapshot, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out.flush()) return R::error("cannot write the snapshot " + snapshot.string());
  }
  std::error_code ec;
  const fs::perms readable = fs::perms::owner_read | fs::perms::owner_exec;
  fs::permissions(snapshot, run_as_.empty() ? readable : readable | fs::perms::others_read | fs::perms::others_exec, ec);
  auto info = check_plugin(runner_, snapshot, run_as_);
  if (!info) {
    fs::remove(snapshot, ec);
    return R::error(info.message());
  }
  return std::shared_ptr<const PluginBuild>(std::make_shared<PluginBuild>(source, snapshot, hash, info.value()));
}

std::vector<std::string> PluginCatalog::refresh(const std::vector<std::shared_ptr<const config::JobSpec>>& jobs) {
  std::map<fs::path, std::string> wanted;  // plugin file -> a job that names it, for messages
  for (const auto& job : jobs)
    if (!job->plugin.empty()) wanted.emplace(job->plugin, job->name);

  std::vector<std::string> problems;
  std::map<fs::path, std::shared_ptr<const PluginBuild>> builds;
  std::map<fs::path, std::string> errors;
  for (const auto& [source, job] : wanted) {
    std::shared_ptr<const PluginBuild> current;
    {
      std::lock_guard lock(mutex_);
      if (auto found = builds_.find(source); found != builds_.end()) current = found->second;
    }
    std::string hash;
    auto content = read_file(source, hash);
    if (content && current && current->hash() == hash) {
      builds[source] = current;
      continue;
    }
    auto fresh = content ? build(source, content.value(), hash) : Result<std::shared_ptr<const PluginBuild>>::error(content.message());
    if (fresh) {
      builds[source] = fresh.value();
      continue;
    }
    std::string problem = "plugin " + source.string() + " (job " + job + ") cannot be loaded: " + fresh.message();
    if (current) {
      builds[source] = current;
      problem += "; still running the last good build, " + current->info().name + " " + current->info().version;
    }
    errors[source] = fresh.message();
    problems.push_back(std::move(problem));
  }
  std::lock_guard lock(mutex_);
  builds_.swap(builds);
  errors_.swap(errors);
  return problems;  // the replaced builds go with `builds` here, or with their last run
}

Result<std::shared_ptr<const PluginBuild>> PluginCatalog::find(const fs::path& source) const {
  std::lock_guard lock(mutex_);
  if (auto found = builds_.find(source); found != builds_.end()) return found->second;
  if (auto error = errors_.find(source); error != errors_.end())
    return Result<std::shared_ptr<const PluginBuild>>::error("plugin " + source.string() + " cannot be loaded: " + error->second);
  return Result<std::shared_ptr<const PluginBuild>>::error("plugin " + source.string() + " was not loaded (send SIGHUP to load it)");
}

}  // namespace cronhost::plugin
