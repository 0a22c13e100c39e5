// The PostgreSQL backend of the state store (store/state_store.hpp): the same tables as the
// SQLite file (schemas/migrations/postgres), the same operations with the same meaning and the
// same error messages. Several daemons may share one database (issue 14, step 4): each owns the
// runs it claimed under a lease it renews every second (store/pg_cluster.hpp), writes a run only
// with the owner and fence it claimed it with, and reaps the runs of hosts whose leases expired.
// All other access goes through one writer thread and its connection (store/pg_writer.hpp), so
// a PgStore may be used from any thread; posted writes are grouped into one transaction and kept
// for a retry while the server is away; waited calls fail fast meanwhile.
#pragma once
#include <memory>

#include <atomic>
#include <chrono>

#include "config/host_config.hpp"
#include "store/pg_cluster.hpp"
#include "store/open_store.hpp"
#include "store/state_store.hpp"

namespace cronhost::store {

// Opens the state database `settings` names (engine PostgreSQL) for `mode`:
//   kDaemon  applies pending migrations, then joins the hosts sharing the database: a hosts row
//            with a random id, leases of length `lease` on the runs it claims, renewed every
//            second on a connection of its own, and the reaper of other hosts' expired leases.
//   kReader  reads only (read-only transactions); kClient short writes. Neither migrates nor
//            owns runs; both refuse a database at another schema version than this build's.
//   kScratch is not served here: open_store() gives a dry run on PostgreSQL an in-memory copy
//            (store/pg_scratch.hpp).
// Fails with the url (never the password) and the reason when the server cannot be reached.
Result<std::unique_ptr<Store>> open_pg_store(const config::DatabaseSettings& settings, OpenMode mode,
                                             std::chrono::milliseconds lease = std::chrono::seconds(5));

class PgWriter;

class PgStore final : public Store {
 public:
  ~PgStore() override;

  // Runs: claims, starts, outcomes, retries and retention (store/pg_store.cpp).
  Result<std::vector<ClaimResult>> claim_batch(const std::vector<NewRun>& runs) override;
  Result<std::optional<int64_t>> claim(const NewRun& run) override;
  void mark_started(int64_t run_id, int64_t started_at, int64_t lateness_ms) override;
  void finish(int64_t run_id, const std::string& job, const RunOutcome& outcome) override;
  void record_fire(const std::string& job, int64_t slot, std::optional<int64_t> next_fire) override;
  std::vector<RunRecord> recover_unfinished(int64_t now) override;
  std::vector<RunRecord> pending_retries() override;
  Status set_retry(int64_t run_id, std::optional<int64_t> retry_at, const std::string& note) override;
  std::map<std::string, std::set<int64_t>> claimed_slots(const std::vector<SlotsFrom>& jobs, int64_t to) override;
  std::vector<LastSlot> last_slots() override;
  using RunLedger::prune;
  int64_t prune(const Retention& retention, int64_t now, const std::function<bool()>& keep_going) override;
  bool shared() const override { return heartbeat_ != nullptr; }
  std::vector<int64_t> take_lost_runs() override;
  bool claims_first(const std::string& job) const override {
    return !heartbeat_ || heartbeat_->live_hosts().first_to_claim(job, me_.id);
  }

  // The cluster's figures (/health, /metrics): finishes refused because the run had been
  // reaped meanwhile, runs this host reaped, slots it claimed that another claim had taken
  // first, and whether its reaper is ready.
  int64_t late_completions_refused() const { return refused_.load(); }
  int64_t runs_reaped() const { return heartbeat_ ? heartbeat_->runs_reaped() : 0; }
  int64_t claim_conflicts() const { return conflicts_.load(); }
  bool reaper_ready() const { return heartbeat_ && heartbeat_->reaper_ready(); }
  std::chrono::milliseconds lease() const { return me_.lease; }
  // Hosts alive, leases and the queue as the database sees them now, for the host `host_id`
  // and hosts whose heartbeat is younger than `lease` (store/pg_cluster_status.cpp).
  Result<ClusterCounts> cluster_counts(const std::string& host_id, std::chrono::milliseconds lease);
  // This daemon's hostname/pid (runs.host) and random id (runs.owner); empty for other modes.
  const std::string& host_name() const { return me_.name; }
  const std::string& host_id() const { return me_.id; }
  // cronhost run --role: "all" (the default), "scheduler" or "executor", recorded in hosts.role.
  // A scheduler's claims are queued runs nobody owns (no owner, fence 0, no lease), announced
  // by a NOTIFY on kQueuedChannel in the claim's transaction; executors take them.
  Status set_role(const std::string& role);
  // An executor's take: up to `limit` queued runs nobody owns, oldest first, each once across
  // executors (FOR UPDATE SKIP LOCKED), owned by this host from now on (owner, fence + 1, a
  // lease, runs.host). Fails: logged, nothing taken.
  std::vector<RunRecord> take_queued(int limit);
  static constexpr const char* kQueuedChannel = "cronhost_queued";

  // The clock a daemon fires by: the host's clock corrected to the server's, read each
  // heartbeat (util/offset_clock.hpp), so a host whose clock is off fires slots on time.
  // Other modes: the host's clock.
  const OffsetClock& clock() const { return *clock_; }
  // The server's clock minus this host's (median of the last readings); 0 for other modes.
  int64_t clock_offset_ms() const;
  // Stops renewing leases and reaping, as a paused or cut-off host would (tests).
  void stop_renewing() {
    if (heartbeat_) heartbeat_->stop_renewing();
  }

  std::optional<JobState> job_state(const std::string& job) override;
  std::vector<JobState> job_states() override;
  std::vector<JobState> finished_job_states() override;
  std::vector<std::optional<JobState>> job_states(const std::vector<std::string>& jobs) override;
  std::vector<RunRecord> runs(const RunQuery& query) override;
  std::vector<std::vector<RunBrief>> recent_runs(const std::vector<std::string>& jobs, int per_job) override;
  std::optional<RunRecord> run(int64_t id) override;

  Result<std::optional<std::string>> kv_get(const std::string& job, const std::string& key) override;
  Status kv_put(const std::string& job, const std::string& key, const std::string& json, int64_t now) override;
  Status kv_delete(const std::string& job, const std::string& key) override;

  // The mail outbox (store/pg_outbox.cpp).
  Result<int64_t> outbox_add(const OutboxMail& mail, int64_t now) override;
  Result<std::vector<OutboxMail>> outbox_due(int64_t now, int limit) override;
  std::optional<int64_t> outbox_next_attempt() override;
  Status outbox_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error) override;
  Status outbox_remove(int64_t id) override;
  Status run_add_note(int64_t run_id, const std::string& note) override;
  // The webhook outbox (store/pg_webhook_outbox.cpp).
  Result<int64_t> webhook_add(const OutboxWebhook& webhook, int64_t now) override;
  Result<std::vector<OutboxWebhook>> webhook_due(int64_t now, int limit) override;
  std::optional<int64_t> webhook_next_attempt() override;
  Status webhook_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error,
                          std::optional<int> status) override;
  Status webhook_delivered(int64_t id) override;
  Status webhook_give_up(int64_t id, int attempts, const std::string& error, std::optional<int> status,
                         int64_t now) override;
  Result<std::vector<OutboxWebhook>> webhook_entries(int limit) override;
  Result<int64_t> webhook_prune_failed(int64_t failed_before) override;

  // Approvals and host events (store/pg_approvals.cpp).
  using Store::approval_request;
  Result<RequestedApproval> approval_request(const ApprovalAsk& ask, int64_t now) override;
  Result<std::vector<Approval>> approvals(const ApprovalQuery& query) override;
  Result<std::optional<Approval>> approval(int64_t id) override;
  Result<std::optional<Approval>> approval_open(const std::string& job, const std::string& kind,
                                                const std::string& key) override;
  Result<Approval> approval_decide(int64_t id, ApprovalStatus decision, const std::string& by, const std::string& note,
                                   int64_t now, const std::string& actor) override;
  Result<Approval> approval_cancel(int64_t id, const std::string& by, const std::string& note, int64_t now,
                                   const std::string& actor) override;
  Result<Approval> approval_mark(int64_t id, ApprovalStatus outcome, const std::string& notes, int64_t now) override;
  Result<std::vector<Event>> events_after(int64_t last_id, int limit) override;
  Result<bool> event_delivered(int64_t id, int64_t now) override;

  // Notifications decided (store/pg_notifications.cpp).
  Result<bool> notification_add(const NotificationRecord& record) override;
  Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) override;

  // The admin API's half (store/pg_admin.cpp).
  Status set_enabled_override(const std::string& job, std::optional<bool> enabled) override;
  Status set_schedule_override(const std::string& job, const std::string& json) override;
  Result<std::vector<RegisteredJob>> registered_jobs() override;
  Status save_registered_job(const RegisteredJob& job) override;
  Status delete_registered_job(const std::string& name) override;
  Status audit(const AuditEntry& entry) override;
  // Hosts keeping one catalog: the version admin writes raise (store/pg_admin.cpp), and the
  // definition hashes each daemon publishes (store/pg_definitions.cpp).
  Result<int64_t> catalog_version() override;
  Result<std::vector<JobState>> job_overrides() override;
  Status publish_definitions(const std::vector<DefinitionHash>& hashes) override;
  Result<std::vector<DefinitionDrift>> definition_drift() override;
  Result<std::vector<AuditEntry>> audit_log(const std::string& target, int limit) override;
  Result<std::vector<RunStats>> run_stats(const std::string& job,
                                          const std::vector<std::optional<int64_t>>& since) override;
  Result<int64_t> outbox_size() override;
  Result<int64_t> approvals_count(ApprovalStatus status) override;
  Status check_writable() override;

  void flush() override;
  WriteHealth write_health() const override;

 private:
  friend Result<std::unique_ptr<Store>> open_pg_store(const config::DatabaseSettings&, OpenMode,
                                                      std::chrono::milliseconds);
  explicit PgStore(std::unique_ptr<PgWriter> db);
  // The job states `where` keeps (" WHERE ...", or "" for all), by job.
  std::vector<JobState> job_states_where(const char* where);

  std::unique_ptr<PgWriter> db_;
  PgHostIdentity me_;  // constant after open; empty id: not a daemon (no owner, no fences)
  OwnedRuns owned_;
  std::unique_ptr<OffsetClock> clock_;  // never null; set by heartbeat_
  std::unique_ptr<PgHeartbeat> heartbeat_;  // daemons only; uses owned_ and clock_, so declared after them
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> conflicts_{0};
  std::atomic<bool> claims_unowned_{false};  // a scheduler: its claims are for the executors
};

}  // namespace cronhost::store
