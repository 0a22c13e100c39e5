// The SQLite backend of the state store (store/state_store.hpp): one database file in WAL
// mode holding runs, job state, the per-job key-value store, approvals and events, the outbox
// and the admin API's tables. All access goes through one database thread
// (store/db_thread.hpp), so a SqliteStore may be used from any thread. Built only by the
// Store::open* factories.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "store/state_store.hpp"

namespace SQLite {
class Database;
}

namespace cronhost::store {

class DbThread;

class SqliteStore final : public Store {
 public:
  ~SqliteStore() override;

  // A private in-memory store at the current schema, filled by `seed` before first use (a
  // dry run's copy of state kept elsewhere, store/pg_scratch.hpp).
  static Result<std::unique_ptr<Store>> open_seeded_scratch(const std::function<void(SQLite::Database&)>& seed);

  // Runs: claims, starts, outcomes, retries and retention (store/sqlite_store.cpp).
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

  // The mail outbox (store/sqlite_outbox.cpp).
  Result<int64_t> outbox_add(const OutboxMail& mail, int64_t now) override;
  Result<std::vector<OutboxMail>> outbox_due(int64_t now, int limit) override;
  std::optional<int64_t> outbox_next_attempt() override;
  Status outbox_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error) override;
  Status outbox_remove(int64_t id) override;
  Status run_add_note(int64_t run_id, const std::string& note) override;
  // The webhook outbox (store/sqlite_webhook_outbox.cpp).
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

  // Approvals and host events (store/sqlite_approvals.cpp).
  using Store::approval_request;  // the inline overload of the interface
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

  // Notifications decided (store/sqlite_notifications.cpp).
  Result<bool> notification_add(const NotificationRecord& record) override;
  Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) override;

  // The admin API's half (store/sqlite_admin.cpp).
  Status set_enabled_override(const std::string& job, std::optional<bool> enabled) override;
  Status set_schedule_override(const std::string& job, const std::string& json) override;
  Result<std::vector<RegisteredJob>> registered_jobs() override;
  Result<std::vector<JobState>> job_overrides() override;
  Status save_registered_job(const RegisteredJob& job) override;
  Status delete_registered_job(const std::string& name) override;
  Status audit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> audit_log(const std::string& target, int limit) override;
  Result<std::vector<RunStats>> run_stats(const std::string& job,
                                          const std::vector<std::optional<int64_t>>& since) override;
  Result<int64_t> outbox_size() override;
  Result<int64_t> approvals_count(ApprovalStatus status) override;
  Status check_writable() override;

  void flush() override;
  WriteHealth write_health() const override;

 private:
  friend class Store;  // the open* factories
  // Takes `db` and `lock_fd` (the host lock, store/host_lock.hpp; -1: none), closing it at the end.
  SqliteStore(std::unique_ptr<DbThread> db, int lock_fd);
  // The job states `where` keeps (" WHERE ...", or "" for all), by job.
  std::vector<JobState> job_states_where(const char* where);
  // Inside a task only (the connection held).
  void upsert_last_slot(const std::string& job, int64_t slot, std::optional<int64_t> next_fire);
  void apply_kv_write(const std::string& job, const KvWrite& write, int64_t now);

  // A run's start waiting for the database thread. A run that finishes before its start is
  // written takes it into its finish: one row write instead of two (a trivial run starts and
  // finishes within one commit of the writer).
  struct PendingStart {
    int64_t started_at;
    int64_t lateness_ms;
  };
  std::optional<PendingStart> take_pending_start(int64_t run_id);

  std::unique_ptr<DbThread> db_;
  int lock_fd_;
  std::mutex starts_mutex_;
  std::unordered_map<int64_t, PendingStart> pending_starts_;  // by run id
};

}  // namespace cronhost::store
