// The state store's interface: runs, job state, the per-job key-value store, approvals and
// events, the mail outbox and the admin API's half, with the query and record types they use.
// One backend today, SQLite (store/sqlite_store.hpp), which the open* factories return. Every
// implementation may be used from any thread; writes that need not be waited for are queued
// and committed together, and a slot claim returns only once it is durable.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
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

struct RunQuery {
  std::string job;  // empty: all jobs
  std::optional<RunStatus> status;
  std::optional<int64_t> before_id;  // cursor: runs with a smaller id
  std::optional<int64_t> since;      // runs scheduled at or after this time
  std::optional<int64_t> attempts_of;  // a first attempt and its retries (first_run_id; with `job`: an index range)
  int limit = 20;
};

// A run as a jobs list shows it (its strip of recent statuses, the last run's time and
// duration): no output, result or params, so a page of jobs reads a few kilobytes.
struct RunBrief {
  int64_t id = 0;
  RunStatus status = RunStatus::kQueued;
  Trigger trigger = Trigger::kSchedule;
  int attempt = 1;
  int64_t scheduled_for = 0;
  std::optional<int64_t> started_at, finished_at, duration_ms;
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

// A job and the first slot to look at (claimed_slots).
struct SlotsFrom {
  std::string job;
  int64_t from;
};

// A job's last slot fired (last_slots).
struct LastSlot {
  std::string job;
  int64_t slot;
};

// One run's claim: its new id, or why there is none.
struct ClaimResult {
  enum class Kind {
    kClaimed,
    kAlreadyRan,     // its (job, slot, attempt), or its event, was claimed before
    kBusyElsewhere,  // an exclusive run (NewRun::exclusive) of the job is queued or running
  };
  Kind kind = Kind::kAlreadyRan;
  int64_t id = 0;         // kClaimed: the run's id
  std::string busy_host;  // kBusyElsewhere: the host of the run going (empty if it ended meanwhile)
  bool claimed() const { return kind == Kind::kClaimed; }
};

// The store is made of role interfaces, so that a part of the host depends only on what it
// uses (MailOutbox on the outbox, EventPump on the events) and a backend's operations are
// grouped by what they serve.

// The runs' life: claims, starts, outcomes, retries and retention (the scheduler's).
class RunLedger {
 public:
  virtual ~RunLedger() = default;
  // Claims slots by inserting their run rows, all in one transaction; durable when it returns.
  // For each run, in order: claimed with its id, or already ran (this (job, slot, attempt) was
  // claimed before), or busy elsewhere (only an exclusive run on a shared store).
  virtual Result<std::vector<ClaimResult>> claim_batch(const std::vector<NewRun>& runs) = 0;
  virtual Result<std::optional<int64_t>> claim(const NewRun& run) = 0;
  // A queued run started on a worker (queued write).
  virtual void mark_started(int64_t run_id, int64_t started_at, int64_t lateness_ms) = 0;
  // Records how a run ended, its pending retry and its key-value writes, and updates the
  // job's counters, all in one transaction (queued write).
  virtual void finish(int64_t run_id, const std::string& job, const RunOutcome& outcome) = 0;
  // Remembers the last slot fired and the next one (queued write).
  virtual void record_fire(const std::string& job, int64_t slot, std::optional<int64_t> next_fire) = 0;
  // At start: runs a dead host left queued or running become interrupted; returns them.
  virtual std::vector<RunRecord> recover_unfinished(int64_t now) = 0;
  // Runs whose retry is pending (retry_at set and not yet claimed), the soonest due first.
  virtual std::vector<RunRecord> pending_retries() = 0;
  // Sets (or with nothing, drops) a run's pending retry, appending `note` (if any) to its notes.
  virtual Status set_retry(int64_t run_id, std::optional<int64_t> retry_at, const std::string& note) = 0;
  // For each job, its slots in [from, to] whose first attempt was claimed (ran, runs or was
  // skipped); jobs with none are left out. One read for them all: a host restarting with
  // 100,000 jobs asks for each, and a read apiece took seconds.
  virtual std::map<std::string, std::set<int64_t>> claimed_slots(const std::vector<SlotsFrom>& jobs, int64_t to) = 0;
  // Every job's last slot fired (jobs never fired are left out), in no order: all a start's
  // catch-up needs, where reading every job's whole state back took 0.4 s at 100,000 jobs.
  // Throws when the store cannot be read: taking the jobs for new would lose their catch-up.
  virtual std::vector<LastSlot> last_slots() = 0;
  // Deletes finished runs beyond the retention; returns how many. In steps (store/history_prune.hpp),
  // asking `keep_going` before each: a prune that says no stops there, and the next one goes on.
  virtual int64_t prune(const Retention& retention, int64_t now, const std::function<bool()>& keep_going) = 0;
  int64_t prune(const Retention& retention, int64_t now) {
    return prune(retention, now, [] { return true; });
  }
  // Whether other hosts share this store (PostgreSQL): retries may then appear that another
  // host's reaper created, so the scheduler polls pending_retries().
  virtual bool shared() const { return false; }
  // Runs of this host to stop now, each returned once: their leases could not be renewed and
  // expire soon, after which another host may run them again. Empty on a store no one shares.
  virtual std::vector<int64_t> take_lost_runs() { return {}; }
  // Whether this host claims `job`'s slots first; the other hosts of a shared store wait a
  // head start before claiming them too (store/rendezvous.hpp). Always true unshared.
  virtual bool claims_first(const std::string& job) const {
    (void)job;
    return true;
  }
};

// What the API, the command line and a run's history read.
class RunReader {
 public:
  virtual ~RunReader() = default;
  virtual std::optional<JobState> job_state(const std::string& job) = 0;
  virtual std::vector<JobState> job_states() = 0;
  // The states of the jobs that have finished a run (what a restart seeds /metrics with): at
  // 100,000 jobs mostly never run, reading every state for them took 0.2 s of the restart.
  virtual std::vector<JobState> finished_job_states() = 0;
  // The states of these jobs, in their order (nothing for a job never seen).
  virtual std::vector<std::optional<JobState>> job_states(const std::vector<std::string>& jobs) = 0;
  virtual std::vector<RunRecord> runs(const RunQuery& query) = 0;
  // The newest `per_job` runs of each of `jobs` (newest first), in the jobs' order; one store
  // call for a page of the jobs list. A job without runs gets an empty list.
  virtual std::vector<std::vector<RunBrief>> recent_runs(const std::vector<std::string>& jobs, int per_job) = 0;
  virtual std::optional<RunRecord> run(int64_t id) = 0;
  // For each window start (nothing: all time), the runs of `job` that finished in it; one
  // pass over the job's runs for all windows.
  virtual Result<std::vector<RunStats>> run_stats(const std::string& job,
                                                  const std::vector<std::optional<int64_t>>& since) = 0;
  virtual Result<int64_t> outbox_size() = 0;
  virtual Result<int64_t> approvals_count(ApprovalStatus status) = 0;
  // Newest first; empty target: all.
  virtual Result<std::vector<AuditEntry>> audit_log(const std::string& target, int limit) = 0;
};

// The per-job key-value store; values are JSON text.
class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual Result<std::optional<std::string>> kv_get(const std::string& job, const std::string& key) = 0;
  virtual Status kv_put(const std::string& job, const std::string& key, const std::string& json, int64_t now) = 0;
  virtual Status kv_delete(const std::string& job, const std::string& key) = 0;
};

// How long a host may take to send a mail it took from the outbox: longer than any SMTP
// exchange (each step times out after smtp.timeout, 30 s by default).
constexpr int64_t kOutboxLockMs = 10 * 60 * 1000;

// The mail outbox: undelivered mail waiting for its next attempt.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  virtual Result<int64_t> outbox_add(const OutboxMail& mail, int64_t now) = 0;
  // Takes the mail due at `now`: each returned mail is locked for kOutboxLockMs (until its
  // outbox_retry_at or outbox_remove), so hosts sharing a store never send one mail twice at
  // once, and one that dies mid-send leaves it to another after the lock runs out.
  virtual Result<std::vector<OutboxMail>> outbox_due(int64_t now, int limit) = 0;
  virtual std::optional<int64_t> outbox_next_attempt() = 0;
  virtual Status outbox_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error) = 0;
  virtual Status outbox_remove(int64_t id) = 0;
  // Appends a line to a run's notes (what happened after it, such as a mail given up on).
  virtual Status run_add_note(int64_t run_id, const std::string& note) = 0;
};

// A webhook in the outbox (store/*_webhook_outbox.cpp): the rendered body and where it goes.
struct OutboxWebhook {
  int64_t id = 0;
  std::string job;
  std::optional<int64_t> run_id;  // absent: the event is about no run (missed, dead-man)
  std::string event;              // the event's name: failed, timed_out, recovered, ...
  std::string format;             // json, slack or teams
  std::string body;               // the request body, rendered when queued
  // JSON {url, headers, secret, secret_values}: holds secrets, never shown; {} once failed.
  std::string target_json;
  std::string url;  // the URL for display, its secret values replaced by ***
  int attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;            // already redacted
  std::optional<int> last_status;    // the last HTTP status received
  int64_t created_at = 0;
  std::optional<int64_t> failed_at;  // set: given up, kept for the operator to see
};

// How long a host may take to deliver a webhook it took from the outbox: longer than any
// request (webhook_delivery.timeout is at most 5 minutes).
constexpr int64_t kWebhookLockMs = 10 * 60 * 1000;

// The webhook outbox: notifications by webhook until they are delivered, and the ones given up.
class WebhookOutboxStore {
 public:
  virtual ~WebhookOutboxStore() = default;
  // Durable when it returns; the id of the new row.
  virtual Result<int64_t> webhook_add(const OutboxWebhook& webhook, int64_t now) = 0;
  // Takes the webhooks due at `now` (not failed): each is locked for kWebhookLockMs (until its
  // webhook_retry_at, webhook_delivered or webhook_give_up), so hosts sharing a store never
  // deliver one webhook twice at once, and one that dies mid-send leaves it to another after
  // the lock runs out. Oldest due first.
  virtual Result<std::vector<OutboxWebhook>> webhook_due(int64_t now, int limit) = 0;
  // When the next webhook still to deliver is due (or its lock runs out); nothing: none.
  virtual std::optional<int64_t> webhook_next_attempt() = 0;
  virtual Status webhook_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error,
                                  std::optional<int> status) = 0;
  virtual Status webhook_delivered(int64_t id) = 0;  // deletes it
  // Gives up: keeps the row as failed at `now` with its last error, its target's secrets cleared.
  virtual Status webhook_give_up(int64_t id, int attempts, const std::string& error, std::optional<int> status,
                                 int64_t now) = 0;
  // Every row (waiting and failed), newest first: what the operator sees.
  virtual Result<std::vector<OutboxWebhook>> webhook_entries(int limit) = 0;
  // Deletes the failed rows given up before `failed_before` (the history's retention); returns how many.
  virtual Result<int64_t> webhook_prune_failed(int64_t failed_before) = 0;
};

// Approvals. Each change is one transaction; a decision and the event announcing it commit
// together. Failures name the approval and its current status:
//   approval 3 is EXECUTED; only a PENDING approval can be approved
class ApprovalStore {
 public:
  virtual ~ApprovalStore() = default;
  // Returns the job's open (PENDING or APPROVED) approval for (kind, key) if there is one,
  // unchanged (created = false); with `once`, else its newest EXECUTED one; else records a new
  // PENDING one. The look and the insert are one statement: race-free across connections.
  virtual Result<RequestedApproval> approval_request(const ApprovalAsk& ask, int64_t now) = 0;
  Result<RequestedApproval> approval_request(const std::string& job, const std::string& kind, const std::string& key,
                                             const std::string& title, const std::string& payload_json, int64_t now) {
    return approval_request(ApprovalAsk{job, kind, key, title, payload_json, "", false}, now);
  }
  virtual Result<std::vector<Approval>> approvals(const ApprovalQuery& query) = 0;  // newest first
  virtual Result<std::optional<Approval>> approval(int64_t id) = 0;
  virtual Result<std::optional<Approval>> approval_open(const std::string& job, const std::string& kind,
                                                        const std::string& key) = 0;
  // PENDING -> `decision` (only kApproved for now); fires approval.approved. The older (smaller
  // id) PENDING or APPROVED approvals of the same job, kind and group become SUPERSEDED in the same
  // transaction, each with an approval.superseded event. A non-empty `actor` (the token's
  // name, or cli:USER) also writes the audit_log row in that transaction.
  virtual Result<Approval> approval_decide(int64_t id, ApprovalStatus decision, const std::string& by,
                                           const std::string& note, int64_t now, const std::string& actor = "") = 0;
  // Deletes a PENDING or APPROVED approval, so the next check may ask again; fires
  // approval.cancelled (and audits, as approval_decide). Returns the approval as it was.
  virtual Result<Approval> approval_cancel(int64_t id, const std::string& by, const std::string& note, int64_t now,
                                           const std::string& actor = "") = 0;
  // APPROVED -> kExecuted, kFailed or kSuperseded, appending `notes` to the approval's notes;
  // sets closed_at, and executed_at only for kExecuted.
  virtual Result<Approval> approval_mark(int64_t id, ApprovalStatus outcome, const std::string& notes, int64_t now) = 0;
};

// Host events for the daemon to deliver (approval.approved, ...).
class EventStore {
 public:
  virtual ~EventStore() = default;
  // Undelivered events with an id above `last_id`, oldest first (pass 0 at start, then the
  // last id seen).
  virtual Result<std::vector<Event>> events_after(int64_t last_id, int limit) = 0;
  // Marks an event delivered before its jobs are fired: true if this call did, false if it
  // was already (another host sharing the store took it), so each event fires its jobs once.
  virtual Result<bool> event_delivered(int64_t id, int64_t now) = 0;
};

// The admin API's writes. Each change is durable when it returns.
class AdminStore {
 public:
  virtual ~AdminStore() = default;
  // enabled: set at runtime; nothing: as the definition says.
  virtual Status set_enabled_override(const std::string& job, std::optional<bool> enabled) = 0;
  // A schedule set over the API as JSON ({"cron", "timezone"}); empty: back to the definition's.
  virtual Status set_schedule_override(const std::string& job, const std::string& json) = 0;
  virtual Result<std::vector<RegisteredJob>> registered_jobs() = 0;
  virtual Status save_registered_job(const RegisteredJob& job) = 0;  // insert or replace
  virtual Status delete_registered_job(const std::string& name) = 0;
  virtual Status audit(const AuditEntry& entry) = 0;

  // What hosts sharing the store (PostgreSQL) need to keep one catalog; a store no one shares
  // (SQLite) has nothing to tell and keeps nothing.
  // A number each change above (overrides, registrations) raises in its own transaction: a
  // host that sees it move reloads them (dispatch/catalog_watch.hpp). 0: never changes.
  virtual Result<int64_t> catalog_version() { return int64_t{0}; }
  // Every job's runtime overrides (the job states with enabled_override or schedule_override
  // set, only those fields filled): read at start, and again when catalog_version() moves.
  virtual Result<std::vector<JobState>> job_overrides() = 0;
  // Replaces this host's published definition hashes with `hashes` (all its jobs).
  virtual Status publish_definitions(const std::vector<DefinitionHash>& hashes) {
    (void)hashes;
    return Status::ok();
  }
  // The jobs whose hashes differ between live hosts, by job.
  virtual Result<std::vector<DefinitionDrift>> definition_drift() { return std::vector<DefinitionDrift>{}; }
};

struct NotificationQuery {
  std::string job;
  std::vector<std::string> events;  // empty: any
  bool sent_only = false;           // leave out the suppressed ones
  int limit = 100;
};

// What notifications were decided (notify/notifier.hpp), so a restart or another host sharing
// the store neither sends one twice nor forgets what repeat_every holds back.
class NotificationStore {
 public:
  virtual ~NotificationStore() = default;
  // Records one (durable when it returns): true if this call did, false if one with its
  // dedup_key was recorded before (by this host or another), in which case nothing is sent.
  virtual Result<bool> notification_add(const NotificationRecord& record) = 0;
  // Newest first.
  virtual Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) = 0;
};

// Whether writes reach the store (/health) and waiting for them.
class StoreHealth {
 public:
  virtual ~StoreHealth() = default;
  // Takes and releases the write lock: fails when the store cannot be written.
  virtual Status check_writable() = 0;
  // Waits until every queued write has been tried: committed, or kept for a retry after a
  // failed commit (the state file full or locked); write_health() tells which.
  virtual void flush() = 0;
  // Failing commits and claims, writes waiting for a retry or lost (for /health).
  virtual WriteHealth write_health() const = 0;
};

// The whole store, for the parts that use most of it (the scheduler, the admin API's context)
// and for the owner that opens it: the open* factories return the SQLite backend
// (store/sqlite_store.hpp).
class Store : public RunLedger,
              public RunReader,
              public KvStore,
              public OutboxStore,
              public WebhookOutboxStore,
              public ApprovalStore,
              public EventStore,
              public AdminStore,
              public NotificationStore,
              public StoreHealth {
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
};

}  // namespace cronhost::store
