// The state file: one SQLite database (WAL) holding runs, job state, the per-job key-value
// store and approvals. All access goes through one database thread (store/db_thread.hpp), so
// a Store may be used from any thread. Writes that need not be waited for are queued and
// committed together; a slot claim returns only once it is durable.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/records.hpp"
#include "store/write_health.hpp"
#include "util/status.hpp"

namespace cronhost::store {

class DbThread;

struct RunQuery {
  std::string job;  // empty: all jobs
  std::optional<RunStatus> status;
  std::optional<int64_t> before_id;  // cursor: runs with a smaller id
  std::optional<int64_t> since;      // runs scheduled at or after this time
  int limit = 20;
};

struct ApprovalQuery {
  std::string kind, key, job;  // empty: any
  std::optional<std::vector<std::string>> jobs;  // set: only approvals these jobs asked for
  std::optional<ApprovalStatus> status;
  int limit = 100;
};

// What a job asks for (approvals.request).
struct ApprovalAsk {
  std::string job, kind, key, title;
  std::string payload_json;  // empty: {}
  std::string group;         // approving this one supersedes the group's older open ones; empty: none
  // Asked once per (kind, key): the job's EXECUTED approval for it is the answer, so a check that
  // runs between the deploy and the version catching up does not ask again.
  bool once = false;
};

struct RequestedApproval {
  Approval approval;
  bool created = false;  // false: an open one (or, with once, an EXECUTED one) was returned
};

// An approval as the command line prints it, events carry it and scripts see it: times as
// RFC 3339 (UTC), the payload as JSON, absent values as null.
nlohmann::json approval_to_json(const Approval& approval);

struct Retention {
  int keep_days = 0;     // 0: keep forever
  int keep_per_job = 0;  // 0: no count limit
};

class Store {
 public:
  // Opens (creating) the state file for a daemon: takes an exclusive lock on the file itself
  // (store/host_lock.hpp) so a second host refuses to start whatever name it reaches the file
  // by, and applies pending migrations.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path);
  // Opens an existing state file for reading while a daemon may be writing it.
  static Result<std::unique_ptr<Store>> open_readonly(const std::filesystem::path& path);
  // Opens an existing state file for the command line's short writes (approve, cancel) while a
  // daemon may hold it: no host lock and no migrations (the file must be at this build's schema
  // version). Only the approval changes are atomic on it (each takes BEGIN IMMEDIATE and waits
  // up to the busy timeout, 5 s, for the daemon's transaction); claims and queued writes are not.
  static Result<std::unique_ptr<Store>> open_client(const std::filesystem::path& path);
  // A private in-memory copy of `path` (empty if it does not exist): writes go nowhere real.
  static Result<std::unique_ptr<Store>> open_scratch_copy(const std::filesystem::path& path);
  ~Store();

  // Claims slots by inserting their run rows, all in one transaction; durable when it returns.
  // For each run: its id, or nothing if this (job, slot, attempt) was claimed before.
  Result<std::vector<std::optional<int64_t>>> claim_batch(const std::vector<NewRun>& runs);
  Result<std::optional<int64_t>> claim(const NewRun& run);
  // A queued run started on a worker (queued write).
  void mark_started(int64_t run_id, int64_t started_at, int64_t lateness_ms);
  // Records how a run ended, its pending retry and its key-value writes, and updates the
  // job's counters, all in one transaction (queued write).
  void finish(int64_t run_id, const std::string& job, const RunOutcome& outcome);
  // Remembers the last slot fired and the next one (queued write).
  void record_fire(const std::string& job, int64_t slot, std::optional<int64_t> next_fire);
  // At start: runs a dead host left queued or running become interrupted; returns them.
  std::vector<RunRecord> recover_unfinished(int64_t now);
  // Runs whose retry is pending (retry_at set and not yet claimed), the soonest due first.
  std::vector<RunRecord> pending_retries();
  // Sets (or with nothing, drops) a run's pending retry, appending `note` (if any) to its notes.
  Status set_retry(int64_t run_id, std::optional<int64_t> retry_at, const std::string& note);
  // The slots of `job` in [from, to] whose first attempt was claimed (ran, runs or was skipped).
  std::set<int64_t> claimed_slots(const std::string& job, int64_t from, int64_t to);
  // Deletes finished runs beyond the retention; returns how many.
  int64_t prune(const Retention& retention, int64_t now);

  std::optional<JobState> job_state(const std::string& job);
  std::vector<JobState> job_states();
  // The states of these jobs, in their order (nothing for a job never seen).
  std::vector<std::optional<JobState>> job_states(const std::vector<std::string>& jobs);
  std::vector<RunRecord> runs(const RunQuery& query);
  std::optional<RunRecord> run(int64_t id);

  // The per-job key-value store; values are JSON text.
  Result<std::optional<std::string>> kv_get(const std::string& job, const std::string& key);
  Status kv_put(const std::string& job, const std::string& key, const std::string& json, int64_t now);
  Status kv_delete(const std::string& job, const std::string& key);

  // The mail outbox (store/outbox.cpp): undelivered mail waiting for its next attempt.
  Result<int64_t> outbox_add(const OutboxMail& mail, int64_t now);
  Result<std::vector<OutboxMail>> outbox_due(int64_t now, int limit);
  std::optional<int64_t> outbox_next_attempt();
  Status outbox_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error);
  Status outbox_remove(int64_t id);
  // Appends a line to a run's notes (what happened after it, such as a mail given up on).
  Status run_add_note(int64_t run_id, const std::string& note);

  // Approvals (store/approvals.cpp). Each change is one transaction; a decision and the event
  // announcing it commit together. Failures name the approval and its current status:
  //   approval 3 is EXECUTED; only a PENDING approval can be approved
  // Returns the job's open (PENDING or APPROVED) approval for (kind, key) if there is one,
  // unchanged (created = false); with `once`, else its newest EXECUTED one; else records a new
  // PENDING one. The look and the insert are one statement: race-free across connections.
  Result<RequestedApproval> approval_request(const ApprovalAsk& ask, int64_t now);
  Result<RequestedApproval> approval_request(const std::string& job, const std::string& kind, const std::string& key,
                                             const std::string& title, const std::string& payload_json, int64_t now) {
    return approval_request(ApprovalAsk{job, kind, key, title, payload_json, "", false}, now);
  }
  Result<std::vector<Approval>> approvals(const ApprovalQuery& query);  // newest first
  Result<std::optional<Approval>> approval(int64_t id);
  Result<std::optional<Approval>> approval_open(const std::string& job, const std::string& kind, const std::string& key);
  // PENDING -> `decision` (only kApproved for now); fires approval.approved. The older (smaller
  // id) PENDING or APPROVED approvals of the same job, kind and group become SUPERSEDED in the same
  // transaction, each with an approval.superseded event. A non-empty `actor` (the token's
  // name, or cli:USER) also writes the audit_log row in that transaction.
  Result<Approval> approval_decide(int64_t id, ApprovalStatus decision, const std::string& by, const std::string& note,
                                   int64_t now, const std::string& actor = "");
  // Deletes a PENDING or APPROVED approval, so the next check may ask again; fires
  // approval.cancelled (and audits, as approval_decide). Returns the approval as it was.
  Result<Approval> approval_cancel(int64_t id, const std::string& by, const std::string& note, int64_t now,
                                   const std::string& actor = "");
  // APPROVED -> kExecuted, kFailed or kSuperseded, appending `notes` to the approval's notes;
  // sets closed_at, and executed_at only for kExecuted.
  Result<Approval> approval_mark(int64_t id, ApprovalStatus outcome, const std::string& notes, int64_t now);

  // The admin API's half (store/admin.cpp). Each change is durable when it returns.
  // enabled: set at runtime; nothing: as the definition says.
  Status set_enabled_override(const std::string& job, std::optional<bool> enabled);
  // A schedule set over the API as JSON ({"cron", "timezone"}); empty: back to the definition's.
  Status set_schedule_override(const std::string& job, const std::string& json);
  Result<std::vector<RegisteredJob>> registered_jobs();
  Status save_registered_job(const RegisteredJob& job);  // insert or replace
  Status delete_registered_job(const std::string& name);
  Status audit(const AuditEntry& entry);
  // Newest first; empty target: all.
  Result<std::vector<AuditEntry>> audit_log(const std::string& target, int limit);
  // For each window start (nothing: all time), the runs of `job` that finished in it; one
  // pass over the job's runs for all windows.
  Result<std::vector<RunStats>> run_stats(const std::string& job, const std::vector<std::optional<int64_t>>& since);
  Result<int64_t> outbox_size();
  Result<int64_t> approvals_count(ApprovalStatus status);
  // Takes and releases the write lock: fails when the file cannot be written.
  Status check_writable();

  // Host events for the daemon to deliver: undelivered ones with an id above `last_id`, oldest
  // first (pass 0 at start, then the last id seen).
  Result<std::vector<Event>> events_after(int64_t last_id, int limit);
  Status event_delivered(int64_t id, int64_t now);

  // Waits until every queued write has been tried: committed, or kept for a retry after a
  // failed commit (the state file full or locked); write_health() tells which.
  void flush();
  // Failing commits and claims, writes waiting for a retry or lost (for /health).
  WriteHealth write_health() const;

 private:
  Store(std::unique_ptr<DbThread> db, int lock_fd);
  void upsert_last_slot(const std::string& job, int64_t slot, std::optional<int64_t> next_fire);
  void apply_kv_write(const std::string& job, const KvWrite& write, int64_t now);
  std::unique_ptr<DbThread> db_;
  int lock_fd_;


};

}  // namespace cronhost::store
