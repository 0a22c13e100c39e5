// The scheduler: keeps the next fire of every job in a priority queue, sleeps until the
// earliest (or until woken), applies each job's concurrency rule, and hands runs to a
// bounded worker pool. Also catch-up after downtime, crash recovery, retries with backoff,
// `after:` chains, reload and graceful shutdown. Thread-safe: public methods may be called
// from any thread (the daemon's signal thread calls reload and shutdown).
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/job_spec.hpp"
#include "config/live_host_config.hpp"
#include "dispatch/loop_heartbeat.hpp"
#include "dispatch/run_metrics.hpp"
#include "dispatch/worker_pool.hpp"
#include "run/run_context.hpp"
#include "store/state_store.hpp"
#include "util/boxed.hpp"
#include "util/clock.hpp"
#include "util/status.hpp"

namespace cronhost::notify {
class Notifier;
}

namespace cronhost::dispatch {

// What a host does among those sharing a PostgreSQL state (cronhost run --role).
enum class HostRole {
  kAll,        // fires the jobs and runs what it claims
  kScheduler,  // fires the jobs: its claims are queued runs for the executors; runs nothing
  kExecutor,   // fires nothing: runs the queued runs it takes (SchedulerOptions::take_queued)
};

struct SchedulerOptions {
  int workers = 2;
  run::RunLimits limits;
  // smtp, databases, registries, http for the runs: each run takes the snapshot current at its start.
  const config::LiveHostConfig* host = nullptr;
  // Executes one run (called on a worker thread); unset: every job is a Lua script.
  std::function<run::RunResult(run::RunContext&)> run;
  RunMetrics* metrics = nullptr;  // counts runs and times them; null: not counted
  const Clock* clock = nullptr;   // null: the system clock (tests pass one they move)
  HostRole role = HostRole::kAll;
  // An executor's source of runs: takes up to `limit` queued runs, owned by this host from then
  // on. Called on wake_queued() and at least every second.
  std::function<std::vector<store::RunRecord>(int limit)> take_queued;
  // Told of every pass of the loop (the service watchdog); null: nobody watches.
  LoopHeartbeat* heartbeat = nullptr;
  // Told of runs that end, slots that start late and slots catch-up drops (notify:); called
  // without the scheduler's lock. Null: no notifications.
  notify::Notifier* notifier = nullptr;
  // The output of the runs going now, for the API's live stream; null: not kept.
  run::LiveOutputs* live_outputs = nullptr;
};

// A manual run asked for: its id once recorded, or why none started.
struct Triggered {
  enum class Refusal { kNone, kNoSuchJob, kConcurrency, kStopping, kNotRecorded, kBadParams };
  int64_t run_id = 0;
  Refusal refusal = Refusal::kNone;
  std::string message;  // why, for a refusal
};

// A run still going well past its deadline: stuck in code that cannot be interrupted (an
// inline plugin's busy loop), holding its worker.
struct OverdueRun {
  std::string job;
  int64_t run_id = 0;
  int64_t past_deadline_ms = 0;
};

// What /health and /metrics show of the loop: counts and the age of its last pass.
struct SchedulerStatus {
  size_t jobs = 0;
  size_t running = 0;  // started on a worker and not finished
  size_t queued = 0;   // claimed, waiting for a worker
  int64_t last_tick_ms = 0;  // when the loop last woke (it wakes at least every second)
  int64_t loop_age_ms = 0;   // since then, on the scheduler's clock (which may be the database's)
  int workers = 0;           // the worker pool's size
  int64_t oldest_queued_age_ms = 0;  // how long the oldest queued run has waited for a worker (0: none)
  std::vector<OverdueRun> overdue;  // runs more than kOverdueMs past their deadline
};

// A run this far past its deadline is stuck: a run that can be stopped ends at its deadline
// within milliseconds (Lua, HTTP, isolated plugins are killed then).
constexpr int64_t kOverdueMs = 5000;

class Scheduler {
 public:
  Scheduler(store::Store& store, SchedulerOptions options);
  ~Scheduler();

  // Installs the jobs, marks runs a dead host left behind as interrupted (retrying them when
  // attempts remain), queues catch-up runs, and starts firing.
  void start(const std::vector<std::shared_ptr<const config::JobSpec>>& jobs);
  // New definitions (SIGHUP): changed jobs use them from their next fire, removed jobs stop
  // firing (runs in flight finish), new jobs start. The caller keeps jobs whose files failed.
  void reload(const std::vector<std::shared_ptr<const config::JobSpec>>& jobs);
  // A host event (approval.approved, ...): fires every job whose `on:` matches it now.
  // Returns how many jobs it fired; nothing once the host is stopping (none). With the event's
  // id, the runs' claims mark the event delivered and a job runs once per event, however
  // often the event is fired (store::NewRun::event_id).
  std::optional<int> fire_event(const std::string& name, const nlohmann::json& payload,
                                std::optional<int64_t> event_id = std::nullopt);
  // Adds or replaces one job (registered over the API, or an override applied), like a reload
  // of that job alone.
  void upsert(std::shared_ptr<const config::JobSpec> spec);
  // Stops firing one job; runs in flight finish. False: no such job.
  bool remove(const std::string& name);
  // Fires one job now as an event run (a notification's job channel): `event` is its
  // {name, payload}. False: no such job, or the host is stopping.
  bool fire_job(const std::string& name, const nlohmann::json& event);
  // The jobs installed now.
  std::vector<std::shared_ptr<const config::JobSpec>> jobs() const;
  // Starts a manual run now, `params` (an object, or null) merged over the job's, `by` naming
  // who asked. Returns the run's id once it is recorded, or the refusal: no such job, params
  // the job's trigger_params do not allow, the job's concurrency rule (the message says why),
  // the host stopping, or the state file failing.
  Triggered trigger(const std::string& job, const nlohmann::json& params, const std::string& by);
  // An executor: queued runs may be waiting (a NOTIFY came); take them now.
  void wake_queued();
  // Asks a queued or running run to stop (it ends as cancelled). False: it is not in flight.
  bool cancel(int64_t run_id);
  // Runs in flight per job (only jobs with some), and of one job.
  std::map<std::string, size_t> running_by_job() const;
  size_t running(const std::string& job) const;
  SchedulerStatus status() const;
  // Every installed job with its next schedule slot and timeout, for /metrics.
  std::vector<MetricsJob> metrics_jobs() const;
  // Stops firing; lets running runs finish for up to `grace`, then interrupts the rest. Runs
  // still going kAbandonAfterMs later (stuck where no interruption reaches) are recorded as
  // interrupted and left to their workers, which are not joined: the caller must then end the
  // process without destructors (see abandoned()). Returns within grace + kAbandonAfterMs.
  void shutdown(std::chrono::milliseconds grace);
  // Runs shutdown left behind on stuck workers; non-zero: exit with std::_Exit.
  size_t abandoned() const { return abandoned_; }
  static constexpr int64_t kAbandonAfterMs = 3000;


 private:
  // What a retry, an event run or a manual run carries besides its slot. Schedule and
  // catch-up fires, nearly every fire, carry none, so a Fire holds it boxed: 88 bytes a fire
  // instead of 192, 10 MB less at 100,000 jobs.
  struct FireOrigin {
    std::optional<int64_t> first_run_id;
    std::optional<int64_t> retry_of;               // a retry: the run of the attempt before
    std::shared_ptr<const nlohmann::json> event;   // for event runs (and their retries): {name, payload}
    std::optional<int64_t> event_id;               // an event run: the event's id in the store
    std::string triggered_by;                      // manual runs: who asked
    std::shared_ptr<const nlohmann::json> params;  // manual runs: merged over the job's params
  };
  struct Fire {
    int64_t due_ms;   // when to start (slot plus jitter, or a retry's time)
    int64_t slot_ms;  // the run's scheduled_for
    std::string job;
    uint64_t generation;  // schedule fires of an older definition are dropped
    store::Trigger trigger;
    int attempt = 1;
    uint64_t sequence = 0;      // fires due at the same time leave in the order they came
    int64_t head_start_ms = 0;  // how far due_ms was pushed back for the host that claims it first
    Boxed<FireOrigin> boxed_origin;
    const FireOrigin& origin() const {
      static const FireOrigin kNone;
      return boxed_origin ? *boxed_origin : kNone;
    }
    FireOrigin& set_origin() {
      if (!boxed_origin) boxed_origin = FireOrigin{};
      return *boxed_origin;
    }
    bool operator>(const Fire& other) const {
      return due_ms != other.due_ms ? due_ms > other.due_ms : sequence > other.sequence;
    }
  };
  static_assert(sizeof(Fire) <= 96, "one Fire is queued per job: keep what few fires carry in FireOrigin");
  // A recorded run's origin (its retry's, or a queued run's on an executor): who asked, the
  // params and the event, parsed back from the row; none when the row carries none.
  static Boxed<FireOrigin> origin_of(const store::RunRecord& run);
  struct ActiveRun {
    std::atomic<run::CancelReason> cancel{run::CancelReason::kNone};
    std::atomic<int64_t> run_id{0};  // set once the run is recorded
    int64_t queued_ms = 0;                // when the loop decided to run it (constant after)
    std::atomic<int64_t> started_ms{0};   // set once a worker starts it
    std::atomic<int64_t> deadline_ms{0};  // started_ms plus the job's timeout
  };
  struct JobEntry {
    std::shared_ptr<const config::JobSpec> spec;
    uint64_t generation = 0;
    int64_t last_fired_slot = 0;  // the last schedule slot dispatched, so a reload resumes after it
    int64_t next_slot = 0;        // the schedule slot queued next (0: none), for /metrics
    // Catch-up slots queued or waiting and not yet claimed: the recorded catch-up position
    // stays before the oldest, so a crash while they are worked through loses none of them.
    std::set<int64_t> pending_catchup;
    // The first slot whose claim failed (the state database away, a connection cut): caught
    // up, by the job's catch-up policy, once claims succeed again, so no slot is lost to an
    // outage shorter than the catch-up window.
    std::optional<int64_t> unclaimed_from;
  };

  // A due fire after the concurrency rule: to run (with its ActiveRun) or to record as skipped.
  struct Decision {
    Fire fire;
    std::shared_ptr<const config::JobSpec> spec;
    std::shared_ptr<ActiveRun> active;  // null: skipped
    std::string skip_reason;
    std::optional<int64_t> record_position;  // see NewRun::record_position
  };

  void loop();
  void push_locked(Fire fire);
  // On a shared store, a slot another host claims first (rendezvous) goes back kHeadStartMs:
  // true if `fire` was pushed back so.
  bool leave_to_first_claimer_locked(Fire& fire);
  std::optional<Decision> decide_locked(const Fire& fire);
  // Claims the batch and submits what it won. A forbid job busy on another host: its schedule
  // slot is recorded skipped (record_skipped), a manual run refused (skip_reason set), anything
  // else waits (wait_for_other_host).
  void claim_and_submit(std::vector<Decision>& batch, int64_t now);
  void wait_for_other_host(Fire fire, const std::string& host);
  void record_skipped(const std::vector<Decision>& batch, std::vector<store::NewRun>& claims,
                      const std::vector<size_t>& which);
  void install_locked(const std::shared_ptr<const config::JobSpec>& spec, int64_t now);
  void index_followers_locked();
  void queue_next_locked(JobEntry& entry, const std::string& name, int64_t after_ms);
  // At start: every job's catch-up, from the last slots the store has.
  void queue_start_catchups_locked(int64_t now);
  // Catch-up for jobs just installed (`names`, and in their order the last slot each fired;
  // none: never fired): the first sight of a job is recorded; for the others the slots since
  // their last fire are looked at, the slots claimed meanwhile read once for all of them.
  void queue_catchups_locked(const std::vector<std::string>& names, int64_t now,
                             const std::vector<std::optional<int64_t>>& last_slots);
  void queue_catchup_locked(JobEntry& entry, const std::string& name, int64_t now, int64_t last_slot,
                            const std::set<int64_t>& claimed);
  // Hands dropped_ to the notifier (loop thread; takes the lock briefly, calls it unlocked).
  void report_dropped();
  void execute(std::shared_ptr<const config::JobSpec> spec, Fire fire, std::shared_ptr<ActiveRun> active,
               int64_t run_id);
  // The run no longer counts against its job's concurrency (a no-op once done).
  void release_locked(const std::string& job, const std::shared_ptr<ActiveRun>& active);
  void finished(const config::JobSpec& spec, const Fire& fire, std::optional<int64_t> run_id,
                std::optional<store::RunStatus> status, const std::shared_ptr<ActiveRun>& active,
                std::optional<int64_t> retry_at = std::nullopt);
  int64_t retry_delay_ms(const config::JobSpec& spec, int attempt);
  // Queues these pending retries (from store_.pending_retries()), dropping those the job no
  // longer allows, and skipping those already queued here.
  void queue_pending_retries_locked(int64_t now, const std::vector<store::RunRecord>& pending);
  // On a shared store, once a second: stops the runs whose leases were lost and queues the
  // retries other hosts' reapers recorded.
  void poll_cluster(int64_t now);
  // Queues the slots failed claims left (JobEntry::unclaimed_from) that no host claimed since.
  void catch_up_unclaimed(int64_t now);
  // An executor: takes queued runs for its free workers and starts them (loop thread, unlocked).
  void take_queued_runs();
  std::optional<int64_t> retry_due(const config::JobSpec& spec, const Fire& fire, store::RunStatus status, int64_t now);
  void write_back(const config::JobSpec& spec, const config::HostConfig* host, int64_t run_id, int64_t started,
                  int64_t finished, store::RunStatus status);

  store::Store& store_;
  const SchedulerOptions options_;
  const Clock& clock_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;   // the loop: a new earliest fire, or stop
  std::condition_variable idle_;   // shutdown: a run ended
  std::priority_queue<Fire, std::vector<Fire>, std::greater<>> queue_;
  std::map<std::string, JobEntry> jobs_;
  std::map<std::string, std::vector<std::string>> followers_;  // job -> the jobs with `after:` on it
  // By job, including removed jobs. Hashed: every run adds and removes its job's entry, and a
  // tree of 20,000 names cost ~15 string compares each way (2-4% of the host at 20,000 runs/s).
  std::unordered_map<std::string, std::vector<std::shared_ptr<ActiveRun>>> active_;
  std::map<std::string, std::deque<Fire>> waiting_;  // catch-up runs queued behind a running one
  // Slots catch-up dropped, for the notifier: told by the loop once the lock is released.
  struct Dropped {
    std::shared_ptr<const config::JobSpec> spec;
    std::vector<int64_t> slots;
    int64_t seen_ms;
  };
  std::vector<Dropped> dropped_;  // guarded by mutex_
  // Runs whose retry is in queue_ or waiting_, so the retry poller does not queue it again;
  // forgotten at its claim.
  std::set<int64_t> queued_retries_;
  int64_t next_cluster_poll_ms_ = 0;  // loop thread only; steady clock
  bool unclaimed_ = false;            // guarded by mutex_: some job has unclaimed_from
  int64_t next_unclaimed_try_ms_ = 0;  // guarded by mutex_; steady clock: 0 once a claim succeeded
  int64_t next_take_ms_ = 0;          // loop thread only; steady clock: an executor's poll
  bool queued_signal_ = false;        // an executor: runs may be waiting (guarded by mutex_)
  size_t in_flight_ = 0;  // submitted to the pool and not finished
  std::atomic<size_t> running_{0};  // of those, started on a worker
  std::atomic<int64_t> last_tick_ms_{0};
  uint64_t next_generation_ = 1;
  uint64_t next_sequence_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> abandoned_{0};
  std::unique_ptr<WorkerPool> pool_;
  std::thread thread_;
};

}  // namespace cronhost::dispatch
