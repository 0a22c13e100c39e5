// The plugin builds a host uses, across reloads. At start and on every SIGHUP, refresh()
// reads each plugin file the jobs name: a file whose content changed is copied to a private
// snapshot (so a build replaced or rewritten in place cannot disturb runs) and checked in a
// runner process. A build that loads replaces the old one for the next runs; runs in flight
// keep theirs, and an inline build is shut down and unloaded after its last run. A build that
// fails to load leaves the last good one in use, with the reason reported.
// refresh() belongs to one thread (the daemon's control thread); find() is thread-safe.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/job_spec.hpp"
#include "plugin/shared_object.hpp"

namespace cronhost::plugin {

// One snapshot of a plugin file, checked to load.
class PluginBuild {
 public:
  PluginBuild(std::filesystem::path source, std::filesystem::path snapshot, std::string hash, PluginInfo info)
      : source_(std::move(source)), snapshot_(std::move(snapshot)), hash_(std::move(hash)), info_(std::move(info)) {}
  ~PluginBuild();  // unloads, then deletes the snapshot
  PluginBuild(const PluginBuild&) = delete;
  PluginBuild& operator=(const PluginBuild&) = delete;

  const std::filesystem::path& source() const { return source_; }
  const std::filesystem::path& snapshot() const { return snapshot_; }
  const std::string& hash() const { return hash_; }
  const PluginInfo& info() const { return info_; }
  // Loaded into this process on the first inline run; thread-safe.
  Result<std::shared_ptr<LoadedPlugin>> loaded() const;

 private:
  std::filesystem::path source_, snapshot_;
  std::string hash_;
  PluginInfo info_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<LoadedPlugin> loaded_;
  mutable std::string load_error_;
};

// Starts the runner in check mode on `file` (as the user "uid:gid" `run_as`, when not empty):
// the plugin's description, or why it cannot load.
Result<PluginInfo> check_plugin(const std::filesystem::path& runner, const std::filesystem::path& file,
                                const std::string& run_as = {});

// Where cronhost-plugin-runner is: $CRONHOST_PLUGIN_RUNNER when set; else beside the running
// executable (a build folder); else where `cmake --install` puts it (<prefix>/libexec/cronhost
// for <prefix>/bin/cronhost). Neither exists: an error naming both paths.
Result<std::filesystem::path> find_runner();
// The runner a PluginCatalog starts: the one found, else the absolute path it would have beside
// the executable (missing, so each plugin or isolated run fails saying so). Never a bare name:
// posix_spawn would resolve that against the working folder and start whatever is there.
std::filesystem::path runner_or_missing(const Result<std::filesystem::path>& found);

class PluginCatalog {
 public:
  // Snapshots go into `snapshot_dir` (created; files left there by an earlier process are
  // removed). `run_as` ("uid:gid", run_as:) is the user isolated runs become; empty: the host's.
  PluginCatalog(std::filesystem::path snapshot_dir, std::filesystem::path runner, std::string run_as = {});
  ~PluginCatalog();  // removes the snapshot folder; no run may be in flight
  PluginCatalog(const PluginCatalog&) = delete;
  PluginCatalog& operator=(const PluginCatalog&) = delete;

  // Brings every plugin the jobs name up to date; returns what went wrong, one line each.
  std::vector<std::string> refresh(const std::vector<std::shared_ptr<const config::JobSpec>>& jobs);

  // The build to run for a plugin file (as the job names it), or why there is none.
  Result<std::shared_ptr<const PluginBuild>> find(const std::filesystem::path& source) const;

  const std::filesystem::path& runner() const { return runner_; }
  const std::string& run_as() const { return run_as_; }

 private:
  Result<std::shared_ptr<const PluginBuild>> build(const std::filesystem::path& source, const std::string& content, const std::string& hash);

  std::filesystem::path snapshot_dir_;
  std::filesystem::path runner_;
  std::string run_as_;
  uint64_t snapshots_made_ = 0;
  mutable std::mutex mutex_;
  std::map<std::filesystem::path, std::shared_ptr<const PluginBuild>> builds_;  // GUARDED_BY(mutex_)
  std::map<std::filesystem::path, std::string> errors_;                         // GUARDED_BY(mutex_)
};

}  // namespace cronhost::plugin
