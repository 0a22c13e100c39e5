// What /health and /metrics show of the hosts sharing a PostgreSQL state: the database's view
// (hosts alive, leases, the queue) read at most once a second however often they are asked, and
// this host's own counters (runs reaped, late completions refused, claim conflicts) and whether
// its reaper is ready. Thread-safe: the API's threads call read() at once.
#pragma once
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "store/pg_cluster.hpp"

namespace cronhost::store {

class PgStore;

struct ClusterStatus {
  std::string host, id;                  // this host's hostname/pid and random id
  std::optional<ClusterCounts> counts;   // nothing: the database could not be read (error says why)
  std::string error;
  int64_t counts_age_ms = 0;             // how old `counts` is (the cache, or the last good read)
  int64_t runs_reaped = 0;               // by this host's reaper, since it started
  int64_t late_completions_refused = 0;  // this host's results refused: the run had been reaped
  int64_t claim_conflicts = 0;           // this host's claims another claim had taken first
  bool reaper_ready = false;             // this host's reaper reaps in its next round
};

class PgClusterStatus {
 public:
  // `daemon` holds the counters; `reader` reads the database on its own connection, so a
  // scrape never waits behind the runs' writes. Both must outlive this object.
  PgClusterStatus(const PgStore& daemon, PgStore& reader);

  // The status now; the database part is at most kRefresh old. A failed read answers the
  // error (and no counts) until a read succeeds again.
  ClusterStatus read();

  // Scrapes every few seconds by several Prometheus servers and load balancers' health checks
  // cost one read a second per host: a few counts over the hosts table and the partial
  // indexes of unfinished runs (runs_unfinished, runs_owned), whatever the history's size.
  static constexpr std::chrono::milliseconds kRefresh{1000};

 private:
  const PgStore& daemon_;
  PgStore& reader_;
  // Held during the read itself, so concurrent callers wait for one read instead of each
  // sending their own; no other lock is taken under it.
  std::mutex mutex_;
  std::chrono::steady_clock::time_point read_at_{};  // guarded by mutex_
  std::optional<ClusterCounts> counts_;              // guarded by mutex_
  std::string error_;                                // guarded by mutex_
};

}  // namespace cronhost::store
