#include "store/pg_cluster.hpp"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "store/pg_session.hpp"
#include "store/pg_values.hpp"
#include "util/log.hpp"
#include "util/offset_clock.hpp"

namespace cronhost::store {
namespace {

using namespace pg;
using std::chrono::steady_clock;


// An offset past this is logged: a second is more than NTP ever leaves, and more than the
// lateness a host's slots may have.
constexpr int64_t kClockOffLogMs = 1000;

int64_t system_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t steady_ns(SteadyTime t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(); }

}  // namespace

std::chrono::milliseconds renew_every(std::chrono::milliseconds lease) {
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(1), lease / 4);
}

std::chrono::milliseconds stop_before_lease_ends(std::chrono::milliseconds lease) {
  return std::min<std::chrono::milliseconds>(std::chrono::milliseconds(1500), lease / 4);
}

PgHostIdentity new_host_identity(std::chrono::milliseconds lease) {
  std::random_device random;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string id;
  for (int i = 0; i < 16; ++i) id += "0123456789abcdef"[hex(random)];
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return {id, std::string(host) + "/" + std::to_string(getpid()), lease};
}

void OwnedRuns::add(int64_t run_id, int64_t fence) {
  std::lock_guard lock(mutex_);
  runs_[run_id] = Owned{fence, steady_clock::now()};
}

void OwnedRuns::remove(int64_t run_id) {
  std::lock_guard lock(mutex_);
  runs_.erase(run_id);
  taken_away_.erase(run_id);
}

std::optional<int64_t> OwnedRuns::fence(int64_t run_id) const {
  std::lock_guard lock(mutex_);
  const auto it = runs_.find(run_id);
  if (it == runs_.end()) return std::nullopt;
  return it->second.fence;
}

void OwnedRuns::alive(SteadyTime sent, std::chrono::milliseconds lease) {
  std::lock_guard lock(mutex_);
  valid_until_ = std::max(valid_until_, sent + lease);
  margin_ = stop_before_lease_ends(lease);
}

void OwnedRuns::renewed(SteadyTime sent, std::chrono::milliseconds lease, const std::set<int64_t>& renewed) {
  std::lock_guard lock(mutex_);
  for (const auto& [id, run] : runs_)
    if (run.since < sent && !renewed.count(id) && !run.lost) taken_away_.insert(id);
  valid_until_ = std::max(valid_until_, sent + lease);
  margin_ = stop_before_lease_ends(lease);
}

std::vector<int64_t> OwnedRuns::take_lost(SteadyTime now) {
  std::lock_guard lock(mutex_);
  const bool expiring = now + margin_ > valid_until_;
  std::vector<int64_t> lost;
  for (auto& [id, run] : runs_)
    if (!run.lost && (expiring || taken_away_.count(id))) {
      run.lost = true;
      lost.push_back(id);
    }
  taken_away_.clear();
  return lost;
}

SteadyTime OwnedRuns::valid_until() const {
  std::lock_guard lock(mutex_);
  return valid_until_;
}

PgHeartbeat::PgHeartbeat(config::DatabaseSettings settings, PgHostIdentity me, OwnedRuns& owned, OffsetClock* clock)
    : me_(std::move(me)), owned_(owned), clock_(clock), samples_(std::make_unique<OffsetSamples>()) {
  // The reaper waits one lease after each (re)connect: a host that was cut off from the
  // server as long as we were has had no chance to renew yet.
  session_ = std::make_unique<PgSession>(std::move(settings), "heartbeat", [this](PgSession&) {
    connected_at_ns_ = steady_ns(steady_clock::now());
    return Status::ok();
  });
  const SteadyTime sent = steady_clock::now();
  session_->run("INSERT INTO hosts (id, name) VALUES ($1, $2)", {param(me_.id), param(me_.name)});
  owned_.renewed(sent, me_.lease, {});
  // Before the scheduler computes its first slots: a host whose clock is off must not start
  // from a wrong "now".
  read_server_clock();
  thread_ = std::thread([this] { loop(); });
}

PgHeartbeat::~PgHeartbeat() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!renewing_) return;  // a host that "died" leaves no clean-stop mark either
  try {
    session_->run("UPDATE hosts SET stopped_at = now() WHERE id = $1", {param(me_.id)});
  } catch (const std::exception& e) {
    log_event(spdlog::level::warn, "cannot mark this host stopped in the state database", {{"error", e.what()}});
  }
}

void PgHeartbeat::stop_renewing() { renewing_ = false; }

bool PgHeartbeat::reaper_ready() const {
  return renewing_ && !failing_ &&
         steady_ns(steady_clock::now()) - connected_at_ns_.load() >= std::chrono::nanoseconds(me_.lease).count();
}

void PgHeartbeat::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    if (renewing_) beat();
    lock.lock();
    wake_.wait_for(lock, renew_every(me_.lease), [this] { return stopping_; });
  }
}

void PgHeartbeat::beat() {
  const SteadyTime sent = steady_clock::now();
  try {
    read_server_clock();
    session_->run("UPDATE hosts SET heartbeat_at = now() WHERE id = $1", {param(me_.id)});
    owned_.alive(sent, me_.lease);
    // Who else claims slots, for their rendezvous: a host whose heartbeat is a lease old is
    // dead to the others, who then claim its jobs' slots without a head start. Executors
    // claim no slots, so they are no one's first claimer.
    std::vector<std::string> alive;
    for (const auto& row : session_->run("SELECT id FROM hosts WHERE stopped_at IS NULL AND role <> 'executor' "
                                         "AND heartbeat_at > now() - $1::bigint * interval '1 millisecond'",
                                         {param(int64_t{me_.lease.count()})}).rows)
      alive.push_back(text(row[0]));
    live_.set(std::move(alive));
    // An expired lease_until is still renewed while owner and fence are ours: after an outage
    // shorter than a lease plus the reapers' wait, the runs simply go on.
    // A row locked meanwhile is skipped, not waited for: it is our own writer's (finishing or
    // starting the run, its transaction perhaps waiting behind another host's), and waiting
    // made renewals queue behind it, or deadlock with it. It still counts as ours (the
    // snapshot says so) and the reapers leave it alone while our heartbeat is fresh.
    auto rows = session_->run(
        "WITH mine AS (SELECT id FROM runs WHERE owner = $1 AND status IN ('queued', 'running')), "
        "free AS (SELECT r.id FROM runs r JOIN mine USING (id) WHERE r.owner = $1 FOR UPDATE OF r SKIP LOCKED), "
        "renewed AS (UPDATE runs r SET lease_until = now() + $2::bigint * interval '1 millisecond' FROM free "
        "WHERE r.id = free.id RETURNING r.id) "
        "SELECT id FROM mine",
        {param(me_.id), param(int64_t{me_.lease.count()})});
    std::set<int64_t> renewed;  // still ours: renewed now, or held by our own writer
    for (const auto& row : rows.rows) renewed.insert(integer(row[0]));
    owned_.renewed(sent, me_.lease, renewed);
    if (failing_) log_event(spdlog::level::info, "lease renewals succeed again", {{"host", me_.name}});
    failing_ = false;
  } catch (const std::exception& e) {
    if (failing_) return;
    failing_ = true;
    log_event(spdlog::level::warn, "lease renewals are failing",
              {{"host", me_.name}, {"error", e.what()},
               {"leases_valid_for_ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(owned_.valid_until() - steady_clock::now()).count()}});
    return;
  }
  if (steady_ns(steady_clock::now()) - connected_at_ns_.load() < std::chrono::nanoseconds(me_.lease).count()) return;
  try {
    reap();
  } catch (const std::exception& e) {
    log_event(spdlog::level::warn, "reaping expired leases failed", {{"error", e.what()}});
  }
}

void PgHeartbeat::read_server_clock() {
  if (!clock_) return;
  const int64_t sent = system_us();
  auto rows = session_->run("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
  const int64_t received = system_us();
  samples_->add(sent, integer(rows.rows.at(0)[0]), received);
  const int64_t offset_us = *samples_->median();
  clock_->set_offset_us(offset_us);
  const int64_t offset_ms = offset_us / 1000;
  const bool off = offset_ms > kClockOffLogMs || offset_ms < -kClockOffLogMs;
  if (off && !clock_off_)
    log_event(spdlog::level::warn,
              "this host's clock is off from the database's by " + std::to_string(offset_ms) +
                  " ms; its schedule follows the database's clock",
              {{"host", me_.name}, {"offset_ms", offset_ms}});
  else if (!off && clock_off_)
    log_event(spdlog::level::info, "this host's clock agrees with the database's again",
              {{"host", me_.name}, {"offset_ms", offset_ms}});
  clock_off_ = off;
}

void PgHeartbeat::reap() {
  // retry_at is when the run started, by its host's clock: due at once on every host whatever
  // its clock's offset from the server's.
  // Nor is a run reaped while its owner's heartbeat is fresh: the renewal of a run can wait
  // behind the owner's own writer (its transaction holds the run's row while it waits for
  // another host's lock on a shared job_state row), and that host is alive all the same.
  // The server itself must have been up a lease too: after a restart every host gets a full
  // lease to reconnect and renew before anyone reaps.
  auto rows = session_->run(
      "WITH clock AS (SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms), "
      "expired AS (SELECT id FROM runs WHERE status IN ('queued', 'running') AND owner IS NOT NULL "
      "AND lease_until < now() AND pg_postmaster_start_time() < now() - $1::bigint * interval '1 millisecond' "
      "AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = runs.owner AND h.stopped_at IS NULL "
      "AND h.heartbeat_at > now() - $1::bigint * interval '1 millisecond') "
      "ORDER BY lease_until LIMIT 200 FOR UPDATE SKIP LOCKED) "
      "UPDATE runs r SET owner = NULL, fence = r.fence + 1, lease_until = NULL, status = 'interrupted', "
      "finished_at = clock.ms, duration_ms = CASE WHEN r.started_at IS NULL THEN 0 "
      "ELSE GREATEST(0, clock.ms - r.started_at) END, "
      "error = 'the host ' || coalesce(r.host, '(unknown)') || ' lost its lease during the run', "
      "retry_at = coalesce(r.started_at, r.queued_at, clock.ms) "
      "FROM expired, clock WHERE r.id = expired.id RETURNING r.id, r.job, r.host, r.attempt",
      {param(int64_t{me_.lease.count()})});
  for (const auto& row : rows.rows) {
    ++reaped_;
    log_event(spdlog::level::warn, "run reaped",
              {{"run", integer(row[0])}, {"job", text(row[1])}, {"owner_host", text(row[2])},
               {"attempt", integer(row[3])}, {"by", me_.name}});
  }
}

}  // namespace cronhost::store
