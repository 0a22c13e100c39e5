// What one PostgreSQL writer transaction writes to kv (the runs' state.put and state.delete),
// gathered and written just before its COMMIT in (job, key) order, before the job_state tally.
// Written as the runs finished, two hosts' transactions locked the same kv rows in different
// orders (a job's runs finishing on both hosts within one batch each) and deadlocked under the
// 300-job cluster test; with every host locking kv, then job_state, in key order, one waits.
// Not thread-safe: the writer thread's transaction only (store/pg_writer.hpp).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace cronhost::store {

class PgSession;

class PgKvWrites {
 public:
  // The last write of a (job, key) in the transaction wins, as statements in order would.
  void put(const std::string& job, const std::string& key, std::string value_json, int64_t at);
  void erase(const std::string& job, const std::string& key);

  // Writes what was gathered (nothing: no statement) and forgets it; throws PgError.
  void write(PgSession& db);
  // Forgets what was gathered: the transaction was rolled back (it runs again from BEGIN).
  void clear() { writes_.clear(); }

 private:
  struct Write {
    std::optional<std::string> value_json;  // none: delete
    int64_t at = 0;
  };
  std::map<std::pair<std::string, std::string>, Write> writes_;  // sorted: the lock order
};

}  // namespace cronhost::store
