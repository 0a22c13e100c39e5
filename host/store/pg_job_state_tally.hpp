// What one PostgreSQL writer transaction changes in job_state, gathered and written in one
// statement just before its COMMIT, rows in job order. Claims, finished runs and fired slots
// each touched job_state rows in the order they came, so two hosts' transactions locked the
// same rows in different orders and deadlocked (about 2,400 of 15,600 slots lost in the
// 300-job cluster test); with every host locking in job order, one waits for the other.
// Not thread-safe: the writer thread's transaction only (store/pg_writer.hpp).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace cronhost::store {

class PgSession;

class PgJobStateTally {
 public:
  // A run of `job` ended with `status` at `finished_at`: runs + 1, successes or failures + 1.
  void finished(const std::string& job, bool succeeded, const std::string& status, int64_t finished_at);
  // A slot of `job` ended without running (a catch-up or concurrency skip).
  void skipped(const std::string& job, int64_t at);
  // `job` fired or claimed up to `slot` (the furthest wins), next due at `next_fire`.
  void fired(const std::string& job, int64_t slot, std::optional<int64_t> next_fire);

  // Writes what was gathered (nothing: no statement) and forgets it; throws PgError.
  void write(PgSession& db);
  // Forgets what was gathered: the transaction was rolled back (it runs again from BEGIN).
  void clear() { jobs_.clear(); }

 private:
  struct Change {
    int64_t runs = 0, successes = 0, failures = 0;
    std::optional<std::string> last_status;  // the last one wins, as statements in order would
    int64_t last_finished_at = 0;
    std::optional<int64_t> last_slot;  // set: next_fire is set too (to a value or NULL)
    std::optional<int64_t> next_fire;
  };
  std::map<std::string, Change> jobs_;  // sorted: the lock order
};

}  // namespace cronhost::store
