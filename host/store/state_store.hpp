// The state file: one SQLite database (WAL) holding runs, job state, the per-job key-value
// store and approvals. All access goes through one database thread (store/db_thread.hpp), so
// a Store may be used from any thread. Writes that need not be waited for are queued and
// committed together; a slot claim returns only once it is durable.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/records.hpp"
#include "util/status.hpp"

namespace cronhost::store {

class DbThread;

struct RunQuery {
  std::string job;  // empty: all jobs
  std::optional<RunStatus> status;
  std::optional<int64_t> before_id;  // cursor: runs with a smaller id
  int limit = 20;
};

struct Retention {
  int keep_days = 0;     // 0: keep forever
  int keep_per_job = 0;  // 0: no count limit
};

class Store {
 public:
  // Opens (creating) the state file for a daemon: takes an exclusive lock on PATH.lock so a
  // second host on the same file refuses to start, and applies pending migrations.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path);
  // Opens an existing state file for reading while a daemon may be writing it.
  static Result<std::unique_ptr<Store>> open_readonly(const std::filesystem::path& path);
  // A private in-memory copy of `path` (empty if it does not exist): writes go nowhere real.
  static Result<std::unique_ptr<Store>> open_scratch_copy(const std::filesystem::path& path);
  ~Store();

  // Claims slots by inserting their run rows, all in one transaction; durable when it returns.
  // For each run: its id, or nothing if this (job, slot, attempt) was claimed before.
  Result<std::vector<std::optional<int64_t>>> claim_batch(const std::vector<NewRun>& runs);
  Result<std::optional<int64_t>> claim(const NewRun& run);
  // A queued run started on a worker (queued write).
  void mark_started(int64_t run_id, int64_t started_at, int64_t lateness_ms);
  // Records how a run ended and updates the job's counters (queued write).
  void finish(int64_t run_id, const std::string& job, const RunOutcome& outcome);
  // Remembers the last slot fired and the next one (queued write).
  void record_fire(const std::string& job, int64_t slot, std::optional<int64_t> next_fire);
  // At start: runs a dead host left queued or running become interrupted; returns them.
  std::vector<RunRecord> recover_unfinished(int64_t now);
  // Deletes finished runs beyond the retention; returns how many.
  int64_t prune(const Retention& retention, int64_t now);

  std::optional<JobState> job_state(const std::string& job);
  std::vector<JobState> job_states();
  std::vector<RunRecord> runs(const RunQuery& query);
  std::optional<RunRecord> run(int64_t id);

  // The per-job key-value store; values are JSON text.
  Result<std::optional<std::string>> kv_get(const std::string& job, const std::string& key);
  Status kv_put(const std::string& job, const std::string& key, const std::string& json, int64_t now);
  Status kv_delete(const std::string& job, const std::string& key);

  // Waits until every queued write has committed.
  void flush();

 private:
  Store(std::unique_ptr<DbThread> db, int lock_fd);
  void upsert_last_slot(const std::string& job, int64_t slot, std::optional<int64_t> next_fire);
  std::unique_ptr<DbThread> db_;
  int lock_fd_;


};

}  // namespace cronhost::store
