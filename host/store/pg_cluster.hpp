// Several daemons on one PostgreSQL state (issue 14, step 4): what a host keeps to own its runs
// there. OwnedRuns is the host's list of claimed, unfinished runs with their fences and which
// of them it must stop; PgHeartbeat is a thread with its own connection that, every second,
// marks the host alive, renews its runs' leases and reaps other hosts' expired ones, and reads
// the server's clock so the host fires by the database's time (util/offset_clock.hpp).
// Both are thread-safe.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/host_config.hpp"
#include "store/rendezvous.hpp"

namespace cronhost {
class OffsetClock;    // util/offset_clock.hpp (not included: its Clock would clash with tests'
class OffsetSamples;  // `using Clock = std::chrono::steady_clock` under `using namespace cronhost`)
}  // namespace cronhost

namespace cronhost::store {

class PgSession;
using SteadyTime = std::chrono::steady_clock::time_point;

// Who this daemon is among the hosts sharing the database.
struct PgHostIdentity {
  std::string id;    // random per start: a restarted host is a new owner
  std::string name;  // hostname/pid, written to runs.host
  std::chrono::milliseconds lease{5000};
};

PgHostIdentity new_host_identity(std::chrono::milliseconds lease);

// Renewals come every second, or four times a lease when it is shorter than 4 s, so that a
// lease spans several renewals and one slow round costs nothing.
std::chrono::milliseconds renew_every(std::chrono::milliseconds lease);
// A run whose lease could not be renewed is stopped this long before the lease surely ends,
// so its script is over before another host may start the retry: 1.5 s, or a quarter lease
// when that is shorter (a 1 s lease renewed every 250 ms is given up after 750 ms).
std::chrono::milliseconds stop_before_lease_ends(std::chrono::milliseconds lease);

// The cluster as the database sees it now (store/pg_cluster_status.hpp reads it).
struct ClusterCounts {
  int64_t hosts_alive = 0;         // hosts not stopped whose heartbeat is younger than a lease
  int64_t leases_held = 0;         // unfinished runs under an unexpired lease, by any host
  int64_t leases_held_here = 0;    // of which this host's
  int64_t queue_depth = 0;         // runs queued (claimed, not started), by any host
  int64_t queue_oldest_age_ms = 0; // the oldest of them, since it was queued (0: none)
  bool server_up_a_lease = false;  // the server has been up a lease: the reapers may reap
};

class OwnedRuns {
 public:
  // A run this host claimed (fence 1 after a claim).
  void add(int64_t run_id, int64_t fence);
  // The run ended here (finish): nothing to renew or stop any more.
  void remove(int64_t run_id);
  std::optional<int64_t> fence(int64_t run_id) const;

  // The host's heartbeat sent at `sent` landed: no host reaps its runs for a lease from then
  // (the reaper skips runs of hosts whose heartbeat is fresh), so they stay valid that long.
  void alive(SteadyTime sent, std::chrono::milliseconds lease);
  // A renewal sent at `sent` renewed `renewed`: a run owned since before `sent` that is not
  // among them has been taken away (reaped), so it is lost. The leases are valid until
  // sent + lease.
  void renewed(SteadyTime sent, std::chrono::milliseconds lease, const std::set<int64_t>& renewed);
  // The runs to stop, each once: those taken away, and all of them when the last successful
  // renewal is about to run out (less than stop_before_lease_ends() left at `now`).
  std::vector<int64_t> take_lost(SteadyTime now);
  SteadyTime valid_until() const;

 private:
  struct Owned {
    int64_t fence;
    SteadyTime since;
    bool lost = false;  // handed out by take_lost
  };
  mutable std::mutex mutex_;
  std::map<int64_t, Owned> runs_;    // guarded by mutex_
  std::set<int64_t> taken_away_;     // guarded by mutex_: lost, not yet handed out
  std::chrono::milliseconds margin_{1500};  // set by renewed()
  SteadyTime valid_until_{};  // guarded by mutex_: set by each successful renewal
  friend class PgHeartbeat;
};

class PgHeartbeat {
 public:
  // Inserts the hosts row (fails: the error, as a thrown PgError, from the constructor's
  // caller's check) and starts the thread. `owned` must outlive this object. `clock`, if
  // given (it must outlive this object too), is set to the server's clock from the first
  // reading here on, and follows it each round.
  PgHeartbeat(config::DatabaseSettings settings, PgHostIdentity me, OwnedRuns& owned, OffsetClock* clock = nullptr);
  ~PgHeartbeat();  // stops the thread and sets the hosts row's stopped_at
  PgHeartbeat(const PgHeartbeat&) = delete;
  PgHeartbeat& operator=(const PgHeartbeat&) = delete;

  // Stops renewing and reaping without a clean close: what a paused or cut-off host looks
  // like to the others (tests).
  void stop_renewing();
  int64_t runs_reaped() const { return reaped_.load(); }
  // The hosts alive at the last round (this one included once its heartbeat landed).
  const LiveHosts& live_hosts() const { return live_; }
  // Whether this host's reaper reaps in its next round: renewing, and its connection has been
  // up a lease (the server's own uptime is the database's to tell: ClusterCounts).
  bool reaper_ready() const;

 private:
  void loop();
  void beat();  // one round: heartbeat and renewals, then the reaper if ready
  void reap();
  void read_server_clock();  // one reading into samples_, the median into clock_

  const PgHostIdentity me_;
  OwnedRuns& owned_;
  std::unique_ptr<PgSession> session_;         // the thread only (after the constructor)
  std::atomic<int64_t> connected_at_ns_{0};    // steady time of the session's last connect
  std::atomic<int64_t> reaped_{0};
  LiveHosts live_;
  std::atomic<bool> renewing_{true};
  std::atomic<bool> failing_{false};  // written by the thread: renewals fail (logged once per streak)
  OffsetClock* const clock_;
  std::unique_ptr<OffsetSamples> samples_;  // the thread only (after the constructor)
  bool clock_off_ = false;   // the thread only: the offset is past kClockOffLogMs (logged once per streak)
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace cronhost::store
