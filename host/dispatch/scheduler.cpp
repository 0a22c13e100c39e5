#include "dispatch/scheduler.hpp"

#include <algorithm>
#include <random>
#include <tuple>
#include <utility>

#include "api/db_writeback.hpp"
#include "api/permissions.hpp"
#include "dispatch/run_metrics.hpp"
#include "notify/notifier.hpp"
#include "run/lua_runner.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/malloc_release.hpp"
#include "util/time_format.hpp"

namespace cronhost::dispatch {
namespace {

using store::RunStatus;
using store::Trigger;

int64_t to_ms(Instant t) { return t.time_since_epoch().count() * 1000; }
Instant to_instant(int64_t ms) { return Instant(std::chrono::seconds(ms / 1000)); }

std::string iso(int64_t ms, const config::JobSpec& spec) {
  return format_rfc3339(to_instant(ms), spec.schedule.zone().offset_at(ms / 1000));
}

// Catch-up looks at no more slots than this per job (an `every: 1s` job down for a day).
constexpr int kMaxCatchupScan = 100'000;

// The loop wakes at least this often, so /health can tell a live loop from a stuck one.
constexpr int64_t kTickMs = 1000;
// How long the hosts of a shared store leave a slot to the host that claims it first
// (store/rendezvous.hpp) before claiming it themselves: long enough for a live host's claim to
// commit (claims took p99 66-128 ms with 300 every-second jobs on 3 hosts of this 2-core
// machine), short enough that a dead host's slots fire late by at most this until the others
// see its heartbeat stop.
constexpr int64_t kHeadStartMs = 500;
// On a shared store, lost leases and the retries of reaped runs are looked at this often: a
// host killed mid-run had its retry running 5.9-7.0 s after the kill with a 5 s lease when
// this was 1 s (the bound is 7 s), since the lease, the reaper's round and this poll
// add up.
constexpr int64_t kClusterPollMs = 250;
// Slots failed claims left are caught up after the next claim that succeeds, or tried this
// often when none comes (jobs that fire rarely).
constexpr int64_t kUnclaimedRetryMs = 5000;

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A run owed (catch-up, retry) whose job is running on another host is tried again this much
// later: a lease renewal's period, so it starts within a second of the other run's end.
constexpr int64_t kBusyWaitMs = 1000;

bool after_matches(const std::string& wanted, RunStatus status) {
  if (wanted == "succeeded") return status == RunStatus::kSucceeded;
  if (wanted == "failed") return status == RunStatus::kFailed || status == RunStatus::kTimedOut;
  return status == RunStatus::kSucceeded || status == RunStatus::kFailed || status == RunStatus::kTimedOut;
}

}  // namespace

Scheduler::Scheduler(store::Store& store, SchedulerOptions options)
    : store_(store), options_(options), clock_(options.clock ? *options.clock : SystemClock::instance()) {}

Scheduler::~Scheduler() {
  if (thread_.joinable()) shutdown(std::chrono::milliseconds(0));
}

void Scheduler::start(const std::vector<std::shared_ptr<const config::JobSpec>>& jobs) {
  const int64_t now = clock_.now_ms();
  last_tick_ms_ = now;
  // Between bursts, the memory runs freed goes back to the system (util/malloc_release).
  pool_ = std::make_unique<WorkerPool>(options_.workers, release_freed_memory);
  std::lock_guard lock(mutex_);
  for (const auto& spec : jobs) install_locked(spec, now);
  index_followers_locked();
  // Runs a dead host left running: interrupted, and retried while attempts remain. The retry
  // is recorded before it is queued, so a second crash does not lose it either.
  for (const auto& run : store_.recover_unfinished(now)) {
    log_event(spdlog::level::warn, "run interrupted by a host stop",
              {{"job", run.job}, {"run", run.id}, {"attempt", run.attempt}});
    auto it = jobs_.find(run.job);
    if (it == jobs_.end() || run.attempt >= it->second.spec->retries.attempts) continue;
    if (auto recorded = store_.set_retry(run.id, now, ""); !recorded)
      log_event(spdlog::level::err, "cannot record a retry in the state file",
                {{"job", run.job}, {"run", run.id}, {"error", recorded.message()}});
  }
  // Retries go first, catch-up after: both are due now, and fires due together leave in the
  // order they came, so an interrupted slot runs again before newer missed ones.
  queue_pending_retries_locked(now, store_.pending_retries());
  // An executor catches nothing up (the scheduler hosts fire) and reads nothing for it.
  if (options_.role != HostRole::kExecutor) queue_start_catchups_locked(now);
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::queue_start_catchups_locked(int64_t now) {
  // Each job's last slot fired, in the order of jobs_: the store's list, sorted as the map is,
  // merged with it (a hash of 100,000 whole job states took 0.4 s and 50 MB).
  std::vector<store::LastSlot> fired = store_.last_slots();
  std::sort(fired.begin(), fired.end(), [](const auto& a, const auto& b) { return a.job < b.job; });
  std::vector<std::string> names;
  std::vector<std::optional<int64_t>> last_slots;
  names.reserve(jobs_.size());
  last_slots.reserve(jobs_.size());
  auto f = fired.begin();
  for (const auto& [name, entry] : jobs_) {
    while (f != fired.end() && f->job < name) ++f;
    names.push_back(name);
    last_slots.push_back(f != fired.end() && f->job == name ? std::optional(f->slot) : std::nullopt);
  }
  queue_catchups_locked(names, now, last_slots);
}

Boxed<Scheduler::FireOrigin> Scheduler::origin_of(const store::RunRecord& run) {
  if (!run.first_run_id && run.triggered_by.empty() && run.params_json.empty() && run.event_json.empty())
    return std::nullopt;
  FireOrigin origin;
  origin.first_run_id = run.first_run_id;
  origin.triggered_by = run.triggered_by;
  if (!run.params_json.empty())
    origin.params = std::make_shared<const nlohmann::json>(nlohmann::json::parse(run.params_json, nullptr, false));
  if (!run.event_json.empty())
    origin.event = std::make_shared<const nlohmann::json>(nlohmann::json::parse(run.event_json, nullptr, false));
  return origin;
}

void Scheduler::queue_pending_retries_locked(int64_t now, const std::vector<store::RunRecord>& pending) {
  if (options_.role == HostRole::kExecutor) return;  // claimed by the scheduler hosts, then taken
  for (const auto& run : pending) {
    if (queued_retries_.count(run.id)) continue;
    auto it = jobs_.find(run.job);
    std::string why_not;
    if (it == jobs_.end())
      why_not = "retry not run: the job is no longer defined";
    else if (run.attempt >= it->second.spec->retries.attempts)
      why_not = "retry not run: the job now allows " + std::to_string(it->second.spec->retries.attempts) + " attempts";
    if (!why_not.empty()) {
      log_event(spdlog::level::warn, "pending retry dropped", {{"job", run.job}, {"run", run.id}, {"reason", why_not}});
      if (auto dropped = store_.set_retry(run.id, std::nullopt, why_not); !dropped)
        log_event(spdlog::level::err, "cannot record a dropped retry", {{"run", run.id}, {"error", dropped.message()}});
      continue;
    }
    Fire retry{std::max(now, run.retry_at.value_or(now)), run.scheduled_for, run.job, 0, Trigger::kRetry,
               run.attempt + 1};
    retry.boxed_origin = origin_of(run);  // a manual run's retry keeps who asked and their params
    FireOrigin& origin = retry.set_origin();
    origin.first_run_id = run.first_run_id.value_or(run.id);
    origin.retry_of = run.id;
    log_event(spdlog::level::info, "pending retry queued",
              {{"job", run.job}, {"run", run.id}, {"attempt", run.attempt + 1}, {"in_ms", retry.due_ms - now}});
    queued_retries_.insert(run.id);
    push_locked(std::move(retry));
  }
}

void Scheduler::poll_cluster(int64_t now) {
  // Stopped here before their leases run out, so they are over before another host may start
  // their retries; they end interrupted (with a retry), a write the fence refuses if they were
  // reaped meanwhile.
  for (const int64_t run_id : store_.take_lost_runs()) {
    std::lock_guard lock(mutex_);
    for (auto& [job, runs] : active_)
      for (auto& run : runs)
        if (run->run_id == run_id) {
          run::CancelReason none = run::CancelReason::kNone;
          run->cancel.compare_exchange_strong(none, run::CancelReason::kShutdown);
          log_event(spdlog::level::warn, "run stopped: its lease could not be renewed", {{"job", job}, {"run", run_id}});
        }
  }
  // Retries other hosts' reapers recorded (or that a host left when it died): every host
  // queues them for their time (as at start), and their claim (job, slot, attempt) lets one
  // host run each.
  auto pending = store_.pending_retries();
  std::lock_guard lock(mutex_);
  if (!stopping_) queue_pending_retries_locked(now, pending);
}

void Scheduler::catch_up_unclaimed(int64_t now) {
  std::map<std::string, int64_t> from;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, entry] : jobs_)
      if (entry.unclaimed_from) from.emplace(name, *std::exchange(entry.unclaimed_from, std::nullopt));
    unclaimed_ = false;
  }
  // Claimed meanwhile by another host (or by a claim that committed though its reply was lost).
  std::vector<store::SlotsFrom> scans;
  for (const auto& [name, first] : from) scans.push_back({name, first});
  std::map<std::string, std::set<int64_t>> claimed = store_.claimed_slots(scans, now);
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  for (const auto& [name, first] : from) {
    auto it = jobs_.find(name);
    if (it == jobs_.end()) continue;
    JobEntry& entry = it->second;
    const config::JobSpec& spec = *entry.spec;
    if (!spec.enabled || !spec.schedule.fires_by_time() || spec.catchup.policy == config::CatchupPolicy::kSkip) {
      log_event(spdlog::level::warn, "slots whose claims failed are not caught up",
                {{"job", name}, {"from", iso(first, spec)},
                 {"policy", std::string(config::to_string(spec.catchup.policy))}});
      continue;
    }
    // Up to the last slot dispatched: later ones fire as usual.
    const int64_t start = std::max(first, now - spec.catchup.window.count());
    std::vector<int64_t> missed;
    auto slot = spec.schedule.next(to_instant(start - 1000));
    for (int scanned = 0; slot && to_ms(*slot) <= std::min(now, entry.last_fired_slot) && scanned < kMaxCatchupScan;
         ++scanned) {
      const int64_t ms = to_ms(*slot);
      if (!claimed[name].count(ms) && !entry.pending_catchup.count(ms)) missed.push_back(ms);
      slot = spec.schedule.next(*slot);
    }
    if (missed.empty()) continue;
    const size_t keep =
        spec.catchup.policy == config::CatchupPolicy::kLatest ? 1 : static_cast<size_t>(spec.catchup.max_runs);
    const size_t skip = missed.size() > keep ? missed.size() - keep : 0;
    log_event(spdlog::level::info, "catching up slots whose claims failed",
              {{"job", name}, {"missed", missed.size()}, {"running", missed.size() - skip},
               {"policy", std::string(config::to_string(spec.catchup.policy))}});
    for (size_t i = skip; i < missed.size(); ++i) {
      entry.pending_catchup.insert(missed[i]);
      push_locked(Fire{now, missed[i], name, entry.generation, Trigger::kCatchup});
    }
  }
}

void Scheduler::install_locked(const std::shared_ptr<const config::JobSpec>& spec_ptr, int64_t now) {
  const config::JobSpec& spec = *spec_ptr;
  const auto [at, installed] = jobs_.try_emplace(spec.name);
  const bool reloaded = !installed;
  JobEntry& entry = at->second;
  entry.spec = spec_ptr;
  entry.generation = next_generation_++;
  // A reloaded job resumes after its last dispatched slot, so a slot waiting out its jitter
  // at reload time is not lost; slots older than the jitter window are not fired late (they
  // are catch-up's business after downtime, not a reload's).
  const int64_t after = reloaded ? std::max(entry.last_fired_slot, now - spec.schedule.jitter().count() - 1000) : now;
  queue_next_locked(entry, spec.name, after);
}

void Scheduler::index_followers_locked() {
  followers_.clear();
  for (const auto& [name, entry] : jobs_)
    if (const auto* after = std::get_if<schedule::After>(&entry.spec->schedule.kind()))
      followers_[after->job].push_back(name);
}

void Scheduler::queue_next_locked(JobEntry& entry, const std::string& name, int64_t after_ms) {
  entry.next_slot = 0;
  if (options_.role == HostRole::kExecutor) return;  // the scheduler hosts fire
  const auto& schedule = entry.spec->schedule;
  auto next = schedule.next(to_instant(after_ms));
  if (!next) return;
  entry.next_slot = to_ms(*next);
  push_locked(Fire{to_ms(*next) + schedule.jitter_delay(*next, name).count(), to_ms(*next), name, entry.generation,
                   Trigger::kSchedule});
}

void Scheduler::queue_catchups_locked(const std::vector<std::string>& names, int64_t now,
                                      const std::vector<std::optional<int64_t>>& last_slots) {
  if (options_.role == HostRole::kExecutor) return;
  std::vector<store::SlotsFrom> scans;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const config::JobSpec& spec = *jobs_.at(name).spec;
    if (!spec.schedule.fires_by_time()) continue;
    const std::optional<int64_t>& last_slot = last_slots.at(i);
    if (!last_slot) {
      // First sight of this job: downtime is counted from now on.
      store_.record_fire(name, now, std::nullopt);
      continue;
    }
    if (spec.enabled) scans.push_back({name, *last_slot + 1});
  }
  const auto claimed = store_.claimed_slots(scans, now);
  const std::set<int64_t> none;
  for (const store::SlotsFrom& scan : scans) {
    auto it = claimed.find(scan.job);
    queue_catchup_locked(jobs_.at(scan.job), scan.job, now, scan.from - 1, it == claimed.end() ? none : it->second);
  }
}

void Scheduler::queue_catchup_locked(JobEntry& entry, const std::string& name, int64_t now, int64_t last_slot,
                                     const std::set<int64_t>& claimed) {
  const config::JobSpec& spec = *entry.spec;
  const bool skip = spec.catchup.policy == config::CatchupPolicy::kSkip;
  const int64_t from = std::max(last_slot, now - spec.catchup.window.count());
  // Every slot since the last one fired is looked at (the notifier is told of those that will
  // not run), catch-up runs those within its window. Slots past the position may have run
  // already: the position stays behind catch-up slots still waiting, so newer slots that ran
  // or were skipped meanwhile lie beyond it (`claimed`).
  std::vector<int64_t> missed, dropped;
  // Before the window (or all, with skip): dropped. Scanned apart from the window, so a long
  // outage of a frequent job still catches up the newest slots.
  const int64_t dropped_until = skip ? now : from;
  auto slot = spec.schedule.next(to_instant(last_slot));
  for (int scanned = 0; slot && to_ms(*slot) <= dropped_until && scanned < kMaxCatchupScan; ++scanned) {
    if (to_ms(*slot) > last_slot && !claimed.count(to_ms(*slot))) dropped.push_back(to_ms(*slot));
    slot = spec.schedule.next(*slot);
  }
  slot = skip ? std::nullopt : spec.schedule.next(to_instant(from));
  for (int scanned = 0; slot && to_ms(*slot) <= now && scanned < kMaxCatchupScan; ++scanned) {
    if (to_ms(*slot) > last_slot && !claimed.count(to_ms(*slot))) missed.push_back(to_ms(*slot));
    slot = spec.schedule.next(*slot);
  }
  const size_t keep = spec.catchup.policy == config::CatchupPolicy::kLatest ? 1 : static_cast<size_t>(spec.catchup.max_runs);
  const size_t first = missed.size() > keep ? missed.size() - keep : 0;
  dropped.insert(dropped.end(), missed.begin(), missed.begin() + static_cast<std::ptrdiff_t>(first));
  if (options_.notifier && !dropped.empty()) {
    // The newest kMaxReportedDrops (each is a notification row): an every-second job down for a
    // day drops 86,400.
    constexpr size_t kMaxReportedDrops = 200;
    if (dropped.size() > kMaxReportedDrops)
      dropped.erase(dropped.begin(), dropped.end() - static_cast<std::ptrdiff_t>(kMaxReportedDrops));
    dropped_.push_back({entry.spec, std::move(dropped), now});
    wake_.notify_one();
  }
  if (missed.empty()) return;
  log_event(spdlog::level::info, "catching up missed slots",
            {{"job", name}, {"missed", missed.size()}, {"running", missed.size() - first},
             {"policy", std::string(config::to_string(spec.catchup.policy))}});
  for (size_t i = first; i < missed.size(); ++i) {
    entry.pending_catchup.insert(missed[i]);
    push_locked(Fire{now, missed[i], name, entry.generation, Trigger::kCatchup});
  }
}

void Scheduler::reload(const std::vector<std::shared_ptr<const config::JobSpec>>& jobs) {
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mutex_);
  std::set<std::string> keep;
  std::vector<std::string> fresh;  // new names: their catch-up looked at together
  for (const auto& spec : jobs) {
    keep.insert(spec->name);
    const auto installed = jobs_.find(spec->name);
    // The same definition (a job file the reload did not read again): its fire stays queued.
    if (installed != jobs_.end() && installed->second.spec == spec) continue;
    if (installed == jobs_.end()) fresh.push_back(spec->name);
    install_locked(spec, now);
  }
  if (!fresh.empty()) {
    std::vector<std::optional<int64_t>> last_slots;
    for (const auto& state : store_.job_states(fresh)) last_slots.push_back(state ? state->last_slot : std::nullopt);
    queue_catchups_locked(fresh, now, last_slots);
  }
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    log_event(spdlog::level::info, "job removed", {{"job", it->first}});
    it = jobs_.erase(it);
  }
  index_followers_locked();
  wake_.notify_all();
}

void Scheduler::push_locked(Fire fire) {
  fire.sequence = next_sequence_++;
  // Wake the loop only when its wait got shorter: a wake per finished run cost a context
  // switch each at 10,000 runs/s.
  const bool earliest = queue_.empty() || fire.due_ms < queue_.top().due_ms;
  queue_.push(std::move(fire));
  if (earliest) wake_.notify_one();
}

void Scheduler::report_dropped() {
  std::vector<Dropped> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(dropped_);
  }
  for (const auto& d : dropped) options_.notifier->slots_dropped(*d.spec, d.slots, d.seen_ms);
}

void Scheduler::loop() {
  std::unique_lock lock(mutex_);
  std::vector<Decision> batch;
  while (!stopping_) {
    if (!dropped_.empty() && options_.notifier) {
      lock.unlock();  // the notifier reads and writes the store
      report_dropped();
      lock.lock();
      continue;
    }
    const int64_t now = clock_.now_ms();
    last_tick_ms_.store(now, std::memory_order_relaxed);
    if (options_.heartbeat) options_.heartbeat->beat(jobs_.size(), running_.load(std::memory_order_relaxed));
    // Leases run on real time whatever clock the schedule uses (a fake one in tests).
    const int64_t steady_ms = steady_now_ms();
    if (unclaimed_ && steady_ms >= next_unclaimed_try_ms_) {
      next_unclaimed_try_ms_ = steady_ms + kUnclaimedRetryMs;
      lock.unlock();  // store calls without the lock
      catch_up_unclaimed(now);
      lock.lock();
      continue;
    }
    if (steady_ms >= next_cluster_poll_ms_ && store_.shared()) {
      next_cluster_poll_ms_ = steady_ms + kClusterPollMs;
      lock.unlock();  // store calls without the lock
      poll_cluster(now);
      lock.lock();
      continue;
    }
    if (options_.role == HostRole::kExecutor) {
      if (!queued_signal_ && steady_ms < next_take_ms_) {
        clock_.wait_until(wake_, lock, now + std::min(kTickMs, next_take_ms_ - steady_ms));
        continue;
      }
      queued_signal_ = false;
      next_take_ms_ = steady_ms + kTickMs;  // a NOTIFY lost (reconnecting) waits a second at most
      lock.unlock();
      take_queued_runs();
      lock.lock();
      continue;
    }
    if (queue_.empty() || queue_.top().due_ms > now) {
      const int64_t tick = store_.shared() ? kClusterPollMs : kTickMs;
      const int64_t until = queue_.empty() ? now + tick : std::min(queue_.top().due_ms, now + tick);
      clock_.wait_until(wake_, lock, until);
      continue;
    }
    // Everything due now is claimed in one transaction. Fires that fall due while that commit
    // runs join the next batch, so the batches grow with the load (group commit).
    while (!queue_.empty() && queue_.top().due_ms <= now) {
      Fire fire = queue_.top();
      queue_.pop();
      if (leave_to_first_claimer_locked(fire)) continue;
      if (auto decision = decide_locked(fire)) batch.push_back(std::move(*decision));
    }
    if (batch.empty()) continue;
    lock.unlock();
    claim_and_submit(batch, now);
    batch.clear();
    lock.lock();
  }
}

bool Scheduler::leave_to_first_claimer_locked(Fire& fire) {
  const bool slot = fire.trigger == Trigger::kSchedule || fire.trigger == Trigger::kCatchup ||
                    fire.trigger == Trigger::kRetry;
  if (!slot || fire.head_start_ms || !store_.shared() || store_.claims_first(fire.job)) return false;
  fire.head_start_ms = kHeadStartMs;
  fire.due_ms += kHeadStartMs;
  push_locked(std::move(fire));
  return true;
}

std::optional<Scheduler::Decision> Scheduler::decide_locked(const Fire& fire) {
  auto it = jobs_.find(fire.job);
  if (it == jobs_.end()) return std::nullopt;  // removed since
  JobEntry& entry = it->second;
  if (fire.trigger == Trigger::kSchedule) {
    if (fire.generation != entry.generation) return std::nullopt;  // superseded by a reload
    entry.last_fired_slot = fire.slot_ms;
    queue_next_locked(entry, fire.job, fire.slot_ms);
  }
  const config::JobSpec& spec = *entry.spec;
  // A disabled job still runs what a person asked for, and that run's retries.
  if (!spec.enabled && fire.trigger != Trigger::kManual && fire.origin().triggered_by.empty()) return std::nullopt;

  static const std::vector<std::shared_ptr<ActiveRun>> kNone;
  const auto found = active_.find(fire.job);
  const auto& active = found == active_.end() ? kNone : found->second;
  if ((fire.trigger == Trigger::kCatchup || fire.trigger == Trigger::kRetry) && !active.empty() &&
      spec.concurrency != config::Concurrency::kAllow) {
    // Missed slots and retries are runs the host owes: they wait for the run in flight and
    // then go one after another, oldest first, rather than being skipped.
    waiting_[fire.job].push_back(fire);
    return std::nullopt;
  }
  Decision decision{fire, entry.spec, nullptr, ""};
  if (fire.trigger == Trigger::kCatchup || fire.trigger == Trigger::kSchedule) {
    const bool last_catchup = fire.trigger == Trigger::kCatchup && entry.pending_catchup.erase(fire.slot_ms) &&
                              entry.pending_catchup.empty();
    if (!entry.pending_catchup.empty())  // not past the oldest slot still waiting
      decision.record_position = std::min(fire.slot_ms, *entry.pending_catchup.begin() - 1);
    else if (last_catchup)  // the schedule slots fired meanwhile were all claimed before this one
      decision.record_position = std::max(fire.slot_ms, entry.last_fired_slot);
  }
  if (spec.concurrency == config::Concurrency::kForbid && !active.empty())
    decision.skip_reason = "the previous run is still going (concurrency: forbid)";
  else if (spec.concurrency == config::Concurrency::kAllow && spec.max_instances &&
           active.size() >= static_cast<size_t>(*spec.max_instances))
    decision.skip_reason = "max_instances " + std::to_string(*spec.max_instances) +
                           " runs are still going (concurrency: allow)";
  if (!decision.skip_reason.empty()) return decision;
  if (spec.concurrency == config::Concurrency::kReplace)
    for (auto& running : active) running->cancel = run::CancelReason::kReplaced;
  decision.active = std::make_shared<ActiveRun>();
  decision.active->queued_ms = clock_.now_ms();
  active_[fire.job].push_back(decision.active);  // only jobs with runs going have an entry
  ++in_flight_;
  return decision;
}

void Scheduler::claim_and_submit(std::vector<Decision>& batch, int64_t now) {
  std::vector<store::NewRun> claims;
  claims.reserve(batch.size());
  for (const Decision& d : batch) {
    const Fire& f = d.fire;
    const FireOrigin& origin = f.origin();
    store::NewRun claim{.job = f.job, .trigger = f.trigger, .scheduled_for = f.slot_ms, .attempt = f.attempt,
                        .first_run_id = origin.first_run_id,
                        .status = d.active ? RunStatus::kQueued : RunStatus::kSkipped,
                        .started_at = now,
                        .lateness_ms = now - (f.due_ms - f.head_start_ms),
                        .error = d.skip_reason,
                        .triggered_by = origin.triggered_by, .params_json = origin.params ? origin.params->dump() : "",
                        .event_json = origin.event ? origin.event->dump() : "", .event_id = origin.event_id,
                        .retry_of = origin.retry_of};
    // Remembered when claimed, so a crash while runs wait for a worker leaves the later
    // slots to catch-up instead of losing them.
    if (f.trigger == Trigger::kSchedule || f.trigger == Trigger::kCatchup) {
      claim.record_slot = true;
      claim.record_position = d.record_position;
      if (auto next = d.spec->schedule.next(to_instant(f.slot_ms))) claim.next_fire = to_ms(*next);
    }
    // Checked here in memory; the store checks it across the hosts that share it.
    claim.exclusive = d.active && d.spec->concurrency == config::Concurrency::kForbid;
    claims.push_back(std::move(claim));
  }
  auto ids = store_.claim_batch(claims);
  const auto busy = [&ids](size_t i) {
    return ids && ids.value()[i].kind == store::ClaimResult::Kind::kBusyElsewhere;
  };
  {
    std::lock_guard lock(mutex_);  // claimed here or elsewhere: its retry_at is gone either way
    for (size_t i = 0; i < batch.size(); ++i)
      if (const auto retry_of = batch[i].fire.origin().retry_of; retry_of && !busy(i)) queued_retries_.erase(*retry_of);
    if (ids) {
      next_unclaimed_try_ms_ = 0;  // claims work: catch up what failed ones left, now
    } else {
      for (const Decision& d : batch) {
        if (d.fire.trigger != Trigger::kSchedule && d.fire.trigger != Trigger::kCatchup) continue;
        auto entry = jobs_.find(d.fire.job);
        if (entry == jobs_.end()) continue;
        auto& from = entry->second.unclaimed_from;
        from = std::min(from.value_or(d.fire.slot_ms), d.fire.slot_ms);
        unclaimed_ = true;
      }
    }
  }
  if (!ids) log_event(spdlog::level::err, "cannot record runs in the state file", {{"error", ids.message()}});
  std::vector<size_t> skipped_here;  // busy elsewhere: their slots recorded skipped
  for (size_t i = 0; i < batch.size(); ++i) {
    Decision& d = batch[i];
    const std::optional<int64_t> id =
        ids && ids.value()[i].claimed() ? std::optional<int64_t>(ids.value()[i].id) : std::nullopt;
    if (!d.active) {
      if (id && options_.metrics) options_.metrics->skipped(d.fire.job);
      if (id)
        log_event(spdlog::level::warn, "slot skipped",
                  {{"job", d.fire.job}, {"run", *id}, {"scheduled_for", iso(d.fire.slot_ms, *d.spec)},
                   {"reason", d.skip_reason}});
      continue;
    }
    if (busy(i)) {
      const std::string& host = ids.value()[i].busy_host;
      d.skip_reason = "the previous run is still going (concurrency: forbid) on host " +
                      (host.empty() ? std::string("another host") : host);
      finished(*d.spec, d.fire, std::nullopt, std::nullopt, d.active);
      if (d.fire.trigger == Trigger::kSchedule) skipped_here.push_back(i);
      else if (d.fire.trigger != Trigger::kManual) wait_for_other_host(d.fire, host);
      continue;  // a manual run: refused with the reason (trigger())
    }
    if (!id) {
      if (ids && d.fire.origin().event_id)
        log_event(spdlog::level::info, "event already ran the job",
                  {{"job", d.fire.job}, {"event", *d.fire.origin().event_id}});
      else if (ids)  // expected after a head start, news otherwise
        log_event(d.fire.head_start_ms ? spdlog::level::debug : spdlog::level::info, "slot already ran",
                  {{"job", d.fire.job}, {"scheduled_for", iso(d.fire.slot_ms, *d.spec)}});
      finished(*d.spec, d.fire, std::nullopt, std::nullopt, d.active);
      continue;
    }
    d.active->run_id = *id;
    if (options_.role == HostRole::kScheduler) {  // queued for the executors
      finished(*d.spec, d.fire, std::nullopt, std::nullopt, d.active);
      continue;
    }
    pool_->submit([this, spec = d.spec, fire = d.fire, active = d.active, run_id = *id] {
      execute(spec, fire, active, run_id);
    });
  }
  if (!skipped_here.empty()) record_skipped(batch, claims, skipped_here);
}

void Scheduler::wake_queued() {
  {
    std::lock_guard lock(mutex_);
    queued_signal_ = true;
  }
  wake_.notify_one();
}

void Scheduler::take_queued_runs() {
  size_t free = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    free = static_cast<size_t>(options_.workers) > in_flight_ ? options_.workers - in_flight_ : 0;
  }
  if (free == 0 || !options_.take_queued) return;
  const auto runs = options_.take_queued(static_cast<int>(free));
  const int64_t now = clock_.now_ms();
  std::vector<store::RunRecord> unknown;  // finished after the lock: no store calls under it
  std::unique_lock lock(mutex_);
  if (runs.size() == free) queued_signal_ = true;  // more may wait: take again once a worker frees
  for (const store::RunRecord& run : runs) {
    Fire fire{run.trigger == Trigger::kSchedule || run.trigger == Trigger::kCatchup ? run.scheduled_for : now,
              run.scheduled_for, run.job, 0, run.trigger, run.attempt};
    fire.boxed_origin = origin_of(run);
    auto it = jobs_.find(run.job);
    if (it == jobs_.end()) {
      unknown.push_back(run);
      continue;
    }
    auto active = std::make_shared<ActiveRun>();
    active->run_id = run.id;
    active->queued_ms = now;
    active_[run.job].push_back(active);
    ++in_flight_;
    pool_->submit([this, spec = it->second.spec, fire, active, run_id = run.id] { execute(spec, fire, active, run_id); });
  }
  lock.unlock();
  for (const store::RunRecord& run : unknown) {  // the scheduler knows a job this executor does not: say so
    store_.finish(run.id, run.job,
                  store::RunOutcome{RunStatus::kFailed, now, 0, "", "the job is not defined on this executor", "", false});
    log_event(spdlog::level::err, "queued run of an unknown job", {{"job", run.job}, {"run", run.id}});
  }
}

void Scheduler::wait_for_other_host(Fire fire, const std::string& host) {
  // A catch-up slot, a retry, an event's or an after: run is owed: it waits for the job's run
  // on the other host and is tried again, rather than dropped.
  log_event(spdlog::level::info, "waiting for the job's run on another host",
            {{"job", fire.job}, {"host", host}, {"trigger", std::string(store::to_string(fire.trigger))},
             {"in_ms", kBusyWaitMs}});
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  auto it = jobs_.find(fire.job);
  if (it == jobs_.end()) return;
  if (fire.trigger == Trigger::kCatchup) it->second.pending_catchup.insert(fire.slot_ms);
  fire.due_ms = clock_.now_ms() + kBusyWaitMs;
  push_locked(std::move(fire));
}

void Scheduler::record_skipped(const std::vector<Decision>& batch, std::vector<store::NewRun>& claims,
                               const std::vector<size_t>& which) {
  std::vector<store::NewRun> skipped;
  for (size_t i : which) {
    store::NewRun run = std::move(claims[i]);
    run.status = RunStatus::kSkipped;
    run.error = batch[i].skip_reason;
    run.exclusive = false;
    skipped.push_back(std::move(run));
  }
  auto ids = store_.claim_batch(skipped);
  if (!ids) {
    log_event(spdlog::level::err, "cannot record runs in the state file", {{"error", ids.message()}});
    return;
  }
  for (size_t k = 0; k < which.size(); ++k) {
    if (!ids.value()[k].claimed()) continue;  // another host recorded the slot first
    const Decision& d = batch[which[k]];
    if (options_.metrics) options_.metrics->skipped(d.fire.job);
    log_event(spdlog::level::warn, "slot skipped",
              {{"job", d.fire.job}, {"run", ids.value()[k].id}, {"scheduled_for", iso(d.fire.slot_ms, *d.spec)},
               {"reason", d.skip_reason}});
  }
}

void Scheduler::execute(std::shared_ptr<const config::JobSpec> spec, Fire fire, std::shared_ptr<ActiveRun> active,
                        int64_t run_id) {
  const int64_t start = clock_.now_ms();
  if (stopping_) {
    store::RunOutcome outcome{RunStatus::kInterrupted, start, 0, "", "the host stopped before the run started", "", false};
    outcome.retry_at = retry_due(*spec, fire, RunStatus::kInterrupted, start);
    store_.finish(run_id, spec->name, outcome);
    return finished(*spec, fire, std::nullopt, std::nullopt, active);
  }
  const int64_t lateness = std::max<int64_t>(0, start - (fire.due_ms - fire.head_start_ms));
  store_.mark_started(run_id, start, lateness);
  active->started_ms = start;
  active->deadline_ms = start + spec->timeout.count();
  running_.fetch_add(1, std::memory_order_relaxed);
  if (options_.metrics) options_.metrics->started(spec->name, lateness);
  if (options_.notifier && (fire.trigger == Trigger::kSchedule || fire.trigger == Trigger::kCatchup))
    options_.notifier->slot_started(*spec, fire.slot_ms,
                                    fire.trigger == Trigger::kSchedule ? fire.due_ms - fire.head_start_ms : fire.slot_ms,
                                    start, run_id);
  if (const auto& params = fire.origin().params) {  // a manual run with its own params runs a copy of the definition
    auto copy = std::make_shared<config::JobSpec>(*spec);
    copy->params.merge_patch(*params);
    spec = std::move(copy);
  }
  if (spdlog::should_log(spdlog::level::info))  // the fields cost more than the run at 10,000 runs/s
    log_event(spdlog::level::info, "run started",
              {{"job", spec->name}, {"run", run_id}, {"trigger", std::string(store::to_string(fire.trigger))},
               {"attempt", fire.attempt}, {"scheduled_for", iso(fire.slot_ms, *spec)}, {"lateness_ms", lateness}});

  run::RunResult result;
  std::string output;
  bool output_truncated = false;
  std::vector<store::KvWrite> kv_writes;
  // Held to the run's end: a reload swaps the host config, never under a running job.
  const auto host = options_.host ? options_.host->current() : nullptr;
  size_t log_lines_dropped = 0;  // over the run's host log cap
  // What the run prints, for the API's live stream while it runs.
  const auto live = options_.live_outputs ? options_.live_outputs->open(run_id) : nullptr;
  // The run's failure, never the worker's: nothing thrown while running a job reaches the pool.
  try {
    run::RunContext ctx(*spec, options_.limits, &store_, host.get());
    ctx.run_id = run_id;
    ctx.trigger = fire.trigger;
    ctx.scheduled_for_ms = fire.slot_ms;
    ctx.attempt = fire.attempt;
    ctx.triggered_by = fire.origin().triggered_by;
    ctx.cancel = &active->cancel;
    ctx.event = fire.origin().event;
    ctx.output.live = live;
    ctx.on_log = [&](std::string_view level, std::string_view message) {
      log_event(spdlog::level::from_str(std::string(level)), "job log", {{"job", spec->name}, {"run", run_id}, {"text", message}});
    };
    result = options_.run ? options_.run(ctx) : run::run_lua(ctx);
    output = ctx.output.text();
    output_truncated = ctx.output.truncated();
    kv_writes = ctx.kv.take_writes();
    log_lines_dropped = ctx.host_log_dropped;
  } catch (const std::exception& e) {
    result = {RunStatus::kFailed, "", std::string("the host failed to run the job: ") + e.what()};
  }
  const int64_t end = clock_.now_ms();
  store::RunOutcome outcome{result.status, end, end - start, result.result_json, result.error, output,
                            output_truncated, result.items};
  outcome.retry_at = retry_due(*spec, fire, result.status, end);
  outcome.kv_writes = std::move(kv_writes);
  const std::optional<int64_t> retry_at = outcome.retry_at;
  {
    // The job's slot frees as the outcome goes to the store, under the lock runs are decided
    // under: whoever sees the run finished may start the next one at once (this worker may
    // log, notify or write back for a while yet), and the ending is queued before any claim
    // that follows it (a forbid job's, which a shared store checks; while commits fail, a
    // claim may pass the writes kept for a retry and be refused as busy until they land).
    std::lock_guard lock(mutex_);
    store_.finish(run_id, spec->name, std::move(outcome));
    release_locked(spec->name, active);
  }
  // After the store has the outcome: a reader that misses the live output then finds it there.
  if (options_.live_outputs) options_.live_outputs->close(run_id, std::string(store::to_string(result.status)), result.error);
  if (spec->writeback) write_back(*spec, host.get(), run_id, start, end, result.status);
  running_.fetch_sub(1, std::memory_order_relaxed);
  if (options_.metrics) options_.metrics->finished(spec->name, result.status, end - start, end);
  const auto level = result.status == RunStatus::kSucceeded ? spdlog::level::info : spdlog::level::warn;
  if (spdlog::should_log(level)) {
    nlohmann::json fields = {{"job", spec->name}, {"run", run_id}, {"trigger", std::string(store::to_string(fire.trigger))},
                             {"duration_ms", end - start}, {"status", std::string(store::to_string(result.status))}};
    if (!result.error.empty()) fields["error"] = result.error.substr(0, result.error.find('\n'));
    if (log_lines_dropped) fields["log_lines_dropped"] = log_lines_dropped;
    log_event(level, "run finished", fields);
  }
  if (options_.notifier && !stopping_) {
    notify::RunFacts facts{run_id, fire.origin().first_run_id, fire.attempt, result.status, fire.trigger, fire.slot_ms, start,
                           end, result.error, retry_at.has_value()};
    options_.notifier->run_finished(*spec, facts);
  }
  finished(*spec, fire, run_id, result.status, active, retry_at);
}

// A table source's writeback keeps the app's columns current; its failure is logged, and the
// run's outcome stands. Bounded, so a slow app database holds this worker for 30 s at most.
void Scheduler::write_back(const config::JobSpec& spec, const config::HostConfig* host, int64_t run_id, int64_t started,
                           int64_t finished, RunStatus status) {
  api::RunFacts facts{run_id, started, finished, std::string(store::to_string(status)), std::nullopt};
  if (auto next = spec.schedule.next(to_instant(finished))) facts.next_fire_ms = to_ms(*next);
  const auto timeout = std::min<std::chrono::milliseconds>(spec.timeout, std::chrono::seconds(30));
  if (auto written = api::write_back(spec, host, facts, timeout); !written)
    log_event(spdlog::level::err, "writeback failed", {{"job", spec.name}, {"run", run_id}, {"error", written.message()}});
}

void Scheduler::release_locked(const std::string& job, const std::shared_ptr<ActiveRun>& active) {
  const auto it = active_.find(job);
  if (it == active_.end() || std::erase(it->second, active) == 0) return;  // released before
  if (it->second.empty()) active_.erase(it);
  // A catch-up or retry that waited for a run goes now, ahead of fires that came after it.
  if (auto waiting = waiting_.find(job); waiting != waiting_.end() && !stopping_) {
    Fire next = waiting->second.front();
    waiting->second.pop_front();
    if (waiting->second.empty()) waiting_.erase(waiting);
    next.due_ms = clock_.now_ms();
    next.head_start_ms = 0;
    push_locked(next);
  }
}

std::optional<int64_t> Scheduler::retry_due(const config::JobSpec& spec, const Fire& fire, RunStatus status, int64_t now) {
  if (fire.attempt >= spec.retries.attempts) return std::nullopt;
  // A run the host stopped (SIGTERM past the grace) is retried once the host is back.
  if (status == RunStatus::kInterrupted) return now;
  if (status != RunStatus::kFailed && status != RunStatus::kTimedOut) return std::nullopt;
  return now + retry_delay_ms(spec, fire.attempt);
}

int64_t Scheduler::retry_delay_ms(const config::JobSpec& spec, int attempt) {
  // Exponential from backoff, capped at max_backoff, then "equal jitter": half fixed, half
  // random, so retries of many jobs that failed together spread out.
  int64_t delay = spec.retries.backoff.count();
  for (int i = 1; i < attempt && delay < spec.retries.max_backoff.count(); ++i) delay *= 2;
  delay = std::min(delay, spec.retries.max_backoff.count());
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return delay / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(delay / 2 + 1));
}

void Scheduler::finished(const config::JobSpec& spec, const Fire& fire, std::optional<int64_t> run_id,
                         std::optional<RunStatus> status, const std::shared_ptr<ActiveRun>& active,
                         std::optional<int64_t> retry_at) {
  std::lock_guard lock(mutex_);
  release_locked(spec.name, active);
  --in_flight_;
  idle_.notify_all();
  if (options_.role == HostRole::kExecutor) {  // a worker is free: take the next queued run
    queued_signal_ = true;
    wake_.notify_one();
    return;  // retries: recorded with the outcome; the scheduler hosts claim them
  }
  if (!status || !run_id || stopping_) return;

  const int64_t now = clock_.now_ms();
  if (retry_at) {
    // Recorded with the run's outcome (runs.retry_at): a host that stops before it is due
    // runs it after the restart. A job removed since keeps it there, with a note at restart.
    if (!jobs_.count(spec.name)) return;
    log_event(spdlog::level::info, "retry scheduled",
              {{"job", spec.name}, {"run", *run_id}, {"attempt", fire.attempt + 1}, {"in_ms", *retry_at - now}});
    Fire retry = fire;
    retry.due_ms = *retry_at;
    retry.head_start_ms = 0;
    retry.generation = 0;
    retry.trigger = Trigger::kRetry;
    retry.attempt = fire.attempt + 1;
    FireOrigin& origin = retry.set_origin();
    origin.first_run_id = origin.first_run_id.value_or(*run_id);
    origin.retry_of = *run_id;
    origin.event_id.reset();  // the event was delivered with the first attempt
    queued_retries_.insert(*run_id);
    push_locked(std::move(retry));
  } else {
    if (auto followers = followers_.find(spec.name); followers != followers_.end()) {
      for (const auto& name : followers->second) {
        const JobEntry& entry = jobs_.at(name);
        if (after_matches(std::get<schedule::After>(entry.spec->schedule.kind()).status, *status))
          push_locked(Fire{now, now, name, entry.generation, Trigger::kAfter});
      }
    }
  }
}

std::optional<int> Scheduler::fire_event(const std::string& name, const nlohmann::json& payload,
                                         std::optional<int64_t> event_id) {
  auto event = std::make_shared<const nlohmann::json>(nlohmann::json{{"name", name}, {"payload", payload}});
  const std::string kind = payload.is_object() ? payload.value("kind", std::string()) : "";
  // An approval event carries the approval: only jobs that may see the asking job's approvals hear it.
  const bool about_approval = name.rfind("approval.", 0) == 0;
  std::string asked_by;
  if (auto it = payload.is_object() ? payload.find("job") : payload.end(); it != payload.end() && it->is_string())
    asked_by = it->get<std::string>();
  std::lock_guard lock(mutex_);
  if (stopping_) return std::nullopt;
  int fired = 0;
  const int64_t now = clock_.now_ms();
  for (const auto& [job, entry] : jobs_) {
    const auto* on = std::get_if<schedule::OnEvent>(&entry.spec->schedule.kind());
    if (!on || on->name != name || (!on->kind.empty() && on->kind != kind) || !entry.spec->enabled) continue;
    if (about_approval && !api::may_use_approvals_of(*entry.spec, asked_by)) continue;
    Fire fire{now, now, job, entry.generation, Trigger::kEvent};
    fire.set_origin().event = event;
    fire.set_origin().event_id = event_id;
    push_locked(std::move(fire));
    ++fired;
  }
  return fired;
}

// One job's after: link in or out of the followers index, which stays sorted by name as
// index_followers_locked makes it. upsert and remove change one job: rebuilding the index from
// every job there made a table source that changes 10,000 rows cost O(N^2), about 10 s of CPU
// per read (bench/table_source_bench.py).
namespace {

template <typename Followers>
void link_follower(Followers& followers, const std::string& name, const config::JobSpec& spec, bool in) {
  const auto* after = std::get_if<schedule::After>(&spec.schedule.kind());
  if (!after) return;
  auto& list = followers[after->job];
  const auto at = std::lower_bound(list.begin(), list.end(), name);
  if (in && (at == list.end() || *at != name)) list.insert(at, name);
  if (!in && at != list.end() && *at == name) list.erase(at);
  if (list.empty()) followers.erase(after->job);
}

}  // namespace

void Scheduler::upsert(std::shared_ptr<const config::JobSpec> spec) {
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mutex_);
  auto old = jobs_.find(spec->name);
  const bool fresh = old == jobs_.end();
  if (!fresh) link_follower(followers_, spec->name, *old->second.spec, false);
  install_locked(spec, now);
  link_follower(followers_, spec->name, *spec, true);
  if (fresh) {
    const auto state = store_.job_state(spec->name);
    queue_catchups_locked({spec->name}, now, {state ? state->last_slot : std::nullopt});
  }
}

bool Scheduler::fire_job(const std::string& name, const nlohmann::json& event) {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return false;
  const int64_t now = clock_.now_ms();
  Fire fire{now, now, name, it->second.generation, Trigger::kEvent};
  fire.set_origin().event = std::make_shared<const nlohmann::json>(event);
  push_locked(std::move(fire));
  return true;
}

std::vector<std::shared_ptr<const config::JobSpec>> Scheduler::jobs() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const config::JobSpec>> out;
  out.reserve(jobs_.size());
  for (const auto& [name, entry] : jobs_) out.push_back(entry.spec);
  return out;
}

bool Scheduler::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return false;
  link_follower(followers_, name, *it->second.spec, false);
  jobs_.erase(it);
  log_event(spdlog::level::info, "job removed", {{"job", name}});
  return true;
}

Triggered Scheduler::trigger(const std::string& job, const nlohmann::json& params, const std::string& by) {
  using Refusal = Triggered::Refusal;
  const int64_t now = clock_.now_ms();
  std::unique_lock lock(mutex_);
  if (stopping_) return {0, Refusal::kStopping, "the host is stopping"};
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return {0, Refusal::kNoSuchJob, "no job named \"" + job + "\""};
  if (auto allowed = it->second.spec->trigger_params.check(params); !allowed)
    return {0, Refusal::kBadParams, allowed.message()};
  Fire fire{now, now, job, it->second.generation, Trigger::kManual};
  fire.set_origin().triggered_by = by;
  if (params.is_object() && !params.empty()) fire.set_origin().params = std::make_shared<const nlohmann::json>(params);
  auto decision = decide_locked(fire);
  if (!decision || !decision->active)
    return {0, Refusal::kConcurrency, decision ? decision->skip_reason : "the job cannot run now"};
  lock.unlock();
  std::vector<Decision> batch{*decision};
  claim_and_submit(batch, now);
  const int64_t id = batch.front().active->run_id;
  if (id == 0 && !batch.front().skip_reason.empty())  // running on another host
    return {0, Refusal::kConcurrency, batch.front().skip_reason};
  if (id == 0) return {0, Refusal::kNotRecorded, "the run could not be recorded in the state file"};
  return {id};
}

bool Scheduler::cancel(int64_t run_id) {
  std::lock_guard lock(mutex_);
  for (auto& [job, runs] : active_)
    for (auto& run : runs)
      if (run->run_id == run_id) {
        run::CancelReason none = run::CancelReason::kNone;
        run->cancel.compare_exchange_strong(none, run::CancelReason::kCancelled);
        return true;
      }
  return false;
}

std::map<std::string, size_t> Scheduler::running_by_job() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, size_t> out;
  for (const auto& [job, runs] : active_) out[job] = runs.size();
  return out;
}

size_t Scheduler::running(const std::string& job) const {
  std::lock_guard lock(mutex_);
  const auto it = active_.find(job);
  return it == active_.end() ? 0 : it->second.size();
}

SchedulerStatus Scheduler::status() const {
  const int64_t now = clock_.now_ms();  // the clock last_tick_ms_ and the runs' times are on
  std::lock_guard lock(mutex_);
  const size_t running = running_.load(std::memory_order_relaxed);
  SchedulerStatus status{jobs_.size(), running, in_flight_ > running ? in_flight_ - running : 0,
                         last_tick_ms_.load(std::memory_order_relaxed)};
  status.loop_age_ms = std::max<int64_t>(0, now - status.last_tick_ms);
  status.workers = options_.workers;
  for (const auto& [job, runs] : active_)
    for (const auto& run : runs) {
      if (const int64_t deadline = run->deadline_ms.load(); deadline && now - deadline > kOverdueMs)
        status.overdue.push_back({job, run->run_id.load(), now - deadline});
      if (!run->started_ms.load() && run->queued_ms)
        status.oldest_queued_age_ms = std::max(status.oldest_queued_age_ms, now - run->queued_ms);
    }
  std::sort(status.overdue.begin(), status.overdue.end(),
            [](const OverdueRun& a, const OverdueRun& b) { return std::tie(a.job, a.run_id) < std::tie(b.job, b.run_id); });
  return status;
}

std::vector<MetricsJob> Scheduler::metrics_jobs() const {
  std::lock_guard lock(mutex_);
  std::vector<MetricsJob> out;
  out.reserve(jobs_.size());
  for (const auto& [name, entry] : jobs_)
    out.push_back({name, entry.spec->enabled ? entry.next_slot : 0, entry.spec->timeout.count()});
  return out;
}

void Scheduler::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_lock lock(mutex_);
  if (!idle_.wait_for(lock, grace, [&] { return in_flight_ == 0; })) {
    log_event(spdlog::level::warn, "grace period over, interrupting runs", {{"running", in_flight_}});
    for (auto& [name, runs] : active_)
      for (auto& run : runs) run->cancel = run::CancelReason::kShutdown;
  }
  // A run that can be stopped ends within milliseconds of the interruption; one that does not
  // end in kAbandonAfterMs is stuck where nothing reaches it, and would hold SIGTERM forever.
  if (idle_.wait_for(lock, std::chrono::milliseconds(kAbandonAfterMs), [&] { return in_flight_ == 0; })) {
    lock.unlock();
    pool_.reset();
    store_.flush();
    return;
  }
  struct Stuck {
    std::string job;
    int64_t run_id, started_ms;
  };
  std::vector<Stuck> stuck;
  for (const auto& [name, runs] : active_)
    for (const auto& run : runs) stuck.push_back({name, run->run_id.load(), run->started_ms.load()});
  const size_t in_flight_at_abandon = in_flight_;
  lock.unlock();
  if (in_flight_at_abandon > stuck.size())
    log_event(spdlog::level::err, "workers abandoned at shutdown after their runs ended (outcomes recorded)",
              {{"workers", in_flight_at_abandon - stuck.size()}});
  const int64_t now = clock_.now_ms();  // the clock last_tick_ms_ and the runs' times are on
  for (const auto& run : stuck) {
    log_event(spdlog::level::err, "run abandoned at shutdown: it did not stop when interrupted",
              {{"job", run.job}, {"run", run.run_id}, {"running_ms", run.started_ms ? now - run.started_ms : 0}});
    if (!run.run_id) continue;
    store_.finish(run.run_id, run.job,
                  store::RunOutcome{RunStatus::kInterrupted, now, run.started_ms ? now - run.started_ms : 0, "",
                                    run.started_ms ? "interrupted: the host shut down and the run did not stop (abandoned)"
                                                   : "the host stopped before the run started",
                                    "", false});
  }
  store_.flush();
  // Workers past their runs' outcomes (stuck logging, notifying or writing back) are left too.
  abandoned_ = std::max(stuck.size(), in_flight_at_abandon);
  // Workers stuck in a run cannot be joined: leave them (and the pool) to the process's exit.
  (void)pool_.release();
}

}  // namespace cronhost::dispatch
