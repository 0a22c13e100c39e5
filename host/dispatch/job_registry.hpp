// The jobs the host runs, from two sources: job files (replaced on each reload) and jobs
// services registered over the API (kept in the state file). Runtime overrides set over the
// API (enabled, schedule) are applied on top and persisted; the scheduler gets the result.
// Thread-safe: the API's threads and the daemon's signal thread call it.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/job_loader.hpp"
#include "dispatch/scheduler.hpp"
#include "store/state_store.hpp"

namespace cronhost::dispatch {

enum class JobSource { kFile, kApi, kTable };

// A job as the API shows it.
struct JobView {
  std::shared_ptr<const config::JobSpec> spec;     // what runs: overrides applied
  std::shared_ptr<const config::JobSpec> defined;  // as the file or the registration says
  JobSource source = JobSource::kFile;
  bool schedule_overridden = false;
  std::shared_ptr<const nlohmann::json> posted;  // registered jobs: the definition as posted
};

// Why a change was refused; the message says what to do.
enum class Problem { kNone, kNotFound, kConflict, kInvalid, kFailed };
struct Change {
  Problem problem = Problem::kNone;
  std::string message;
  bool created = false, updated = false;  // registration: a new job, or a changed definition
  static Change refused(Problem p, std::string m) { return {p, std::move(m)}; }
};

class JobRegistry {
 public:
  // `registration_urls`: URL patterns registered jobs' HTTP runners may call (none: refused).
  // `admin` keeps overrides and registrations.
  JobRegistry(store::AdminStore& admin, Scheduler& scheduler, std::vector<std::string> registration_urls);

  // Reads the registered jobs and overrides from the state file and starts the scheduler with
  // every job. Registered jobs that no longer load are logged and left out. Throws when the
  // registered jobs, the overrides or the scheduler's last slots cannot be read: the host
  // must not start without them.
  void start(const std::vector<std::shared_ptr<const config::JobSpec>>& file_jobs, const config::LoadOptions& options);
  // New job files (SIGHUP). A file job takes its name back from a registered one.
  void reload(const std::vector<std::shared_ptr<const config::JobSpec>>& file_jobs, const config::LoadOptions& options);
  // Reads the registered jobs and overrides from the store again and applies those that
  // changed: another host sharing the store changed them over its API (catalog_watch.hpp).
  // Fails, changing nothing, when the store cannot be read.
  Status refresh();
  // Raised by each change to the jobs the registry holds (for definition_watch.hpp).
  uint64_t generation() const { return generation_.load(); }

  std::optional<JobView> find(const std::string& name) const;
  // The jobs whose names start with `prefix`, sorted by name.
  std::vector<JobView> list(std::string_view prefix = "") const;
  size_t size() const;

  Change set_enabled(const std::string& name, bool enabled);
  // `schedule`: {"cron": string or list, "timezone": optional}; checked, then persisted.
  Change set_schedule(const std::string& name, const nlohmann::json& schedule);
  Change reset_schedule(const std::string& name);
  // `body` is the request body (for PATH:LINE:COL in errors), `by` the token's name.
  Change register_job(const std::string& body, const std::string& by);
  Change unregister(const std::string& name);
  // A reloaded host config's server.registration.urls, for registrations from now on.
  void set_registration_urls(std::vector<std::string> urls);
  // The jobs a table source's rows make now (config/table_source.hpp), replacing what it made
  // before: a job whose definition is unchanged is left alone, so its schedule runs on; a
  // name a job file or a registration already has stays theirs. Empty: the source is gone.
  void set_table_jobs(const std::string& source, std::vector<std::shared_ptr<const config::JobSpec>> jobs,
                      std::vector<std::string> definitions);

 private:
  struct Overrides {
    std::optional<bool> enabled;
    nlohmann::json schedule;  // null: none
    bool operator==(const Overrides&) const = default;
  };
  struct Registered {
    std::shared_ptr<const config::JobSpec> spec;
    std::shared_ptr<const nlohmann::json> posted;
  };
  struct TableJob {
    std::string source;
    std::string definition;
    std::shared_ptr<const config::JobSpec> spec;
  };

  JobView make_view_locked(const std::string& name) const;
  std::shared_ptr<const config::JobSpec> defined_locked(const std::string& name) const;
  // `defined` (defined_locked(name)) with the job's overrides applied.
  std::shared_ptr<const config::JobSpec> effective_locked(const std::string& name,
                                                          const std::shared_ptr<const config::JobSpec>& defined) const;
  std::vector<std::shared_ptr<const config::JobSpec>> all_effective_locked();
  void apply_locked(const std::string& name);
  std::optional<Registered> load_registered(const std::string& body, config::Diagnostics& diagnostics) const;
  static std::map<std::string, Overrides> overrides_of(const std::vector<store::JobState>& states);

  store::AdminStore& admin_;
  Scheduler& scheduler_;
  std::vector<std::string> registration_urls_;  // guarded by mutex_

  mutable std::mutex mutex_;
  config::LoadOptions load_options_;
  std::map<std::string, std::shared_ptr<const config::JobSpec>> files_;
  std::map<std::string, Registered> registered_;
  std::map<std::string, TableJob> tables_;
  std::map<std::string, Overrides> overrides_;
  // What the scheduler runs and the API shows, by name; rebuilt for a job when it changes, so
  // listing 10,000 jobs copies views instead of recomputing them.
  std::map<std::string, JobView, std::less<>> views_;
  std::atomic<uint64_t> generation_{0};  // raised whenever views_ changes
  // Registrations another host saved that do not load here, by name and definition: said once.
  std::map<std::string, std::string> refused_;  // guarded by mutex_
  uint64_t local_writes_ = 0;  // guarded by mutex_: overrides and registrations saved through this host
};

// The schedule an override describes, in the job's zone unless it names one; or why not.
Result<schedule::Schedule> schedule_from_json(const nlohmann::json& value, const config::JobSpec& job);

}  // namespace cronhost::dispatch
