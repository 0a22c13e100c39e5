// One connection of a run to a database the host config names, whichever engine serves it.
// The engine-free rules live here: transactions as savepoints when nested or in a dry run,
// the dry run's capture of every write, the caps on what a query returns, and the messages.
// An engine (db_sqlite, db_postgres, db_mysql) supplies only the statement itself.
//
// Used from the run's thread only; an engine may be stopped from inside its statement when
// the run passes its deadline or is cancelled (DbRunScope::stop_now), and the failure then is
// kServer with the engine's message: the binding checks the run's stop first.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/beneath.hpp"
#include "api/db_value.hpp"
#include "api/effects.hpp"
#include "config/host_config.hpp"

namespace cronhost::api {

// What a connection needs of its run.
struct DbRunScope {
  EffectLog* effects = nullptr;
  const Redactor* redactor = nullptr;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled = [] { return false; };

  bool dry_run() const { return effects && !effects->live(); }
  // The run must stop: its deadline passed or it was cancelled.
  bool stop_now() const { return cancelled() || std::chrono::steady_clock::now() >= deadline; }
  std::chrono::steady_clock::duration time_left() const {
    return std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
  }
  std::string redact(std::string_view text) const { return redactor ? redactor->apply(text) : std::string(text); }
};

// SQLite's online copy (conn:backup).
struct DbBackupCopy {
  uintmax_t bytes = 0;
  int64_t pages = 0;
  bool dry_run = false;
};

class DbConnection {
 public:
  DbConnection(std::string name, const config::DatabaseSettings& settings, DbRunScope scope);
  virtual ~DbConnection() = default;
  DbConnection(const DbConnection&) = delete;
  DbConnection& operator=(const DbConnection&) = delete;

  const std::string& name() const { return name_; }
  bool readonly() const { return settings_.readonly; }
  bool closed() const { return closed_; }

  // One statement with `?` placeholders, one value each. query returns its rows, exec the
  // number of rows it changed; exec without values may run a script of several statements
  // where the engine allows it (SQLite). A write in a dry run is captured as it runs.
  // `caller` names the call in misuse messages ("conn:query: no SQL statement given").
  DbResult<DbRows> query(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params);
  DbResult<int64_t> exec(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params);

  // conn:transaction's steps. The outermost live one is a transaction, the others (and all
  // of a dry run, which is one transaction from open to close) are savepoints.
  DbResult<DbDone> begin();
  DbResult<DbDone> commit();    // on failure the transaction is rolled back
  DbResult<DbDone> rollback();
  int depth() const { return depth_; }

  // A copy of the database into `dest` (SQLite); other engines answer kMisuse (db.dump).
  virtual DbResult<DbBackupCopy> backup(const AllowedPath& dest);

  // Rolls back what a dry run wrote and disconnects; a second close does nothing. An engine's
  // destructor calls it (the base's cannot reach the engine any more).
  void close();

 protected:
  // One statement the engine ran. `changes`: rows it changed; `wrote`: it may have changed
  // something (captured in a dry run); `skipped`: a dry run could not run it (captured only).
  struct Outcome {
    std::string sql;  // the statement's text, for the capture
    int64_t changes = 0;
    bool wrote = false;
    bool skipped = false;
  };
  // What an engine implements: runs `sql` with `params` bound, appending each statement it
  // finished to `done` (even when a later one fails) and, with `rows`, the rows to it, counted
  // with count_row. A stop (deadline, cancel) interrupts it.
  virtual DbResult<DbDone> run(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params,
                               DbRows* rows, std::vector<Outcome>& done) = 0;
  // The API's own transaction control (BEGIN, COMMIT, SAVEPOINT ...): never refused.
  virtual DbResult<DbDone> control(const std::string& sql) = 0;
  virtual std::string begin_sql() const { return "BEGIN"; }
  // Rolls back what is open (all of a dry run) and disconnects, even past the deadline.
  virtual void disconnect() = 0;

  // "db: app: " + text.
  std::string error_text(std::string_view text) const;
  DbResult<DbDone> server_error(std::string_view text) const;
  // Adds a row to `rows` within the caps; kServer naming the cap once it is passed.
  DbResult<DbDone> add_row(DbRows& rows, std::vector<DbValue> row);
  // Records a dry run's write: "app: UPDATE t SET ... (params: 2) -> 3 rows (rolled back)".
  void capture_write(std::string_view sql, const std::vector<DbValue>& params, int64_t changes,
                     std::string_view outcome) const;

  const std::string name_;
  const config::DatabaseSettings& settings_;
  DbRunScope scope_;
  DbCaps caps_;

 private:
  DbResult<DbDone> run_and_capture(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params,
                                   DbRows* rows, int64_t& changes);
  size_t row_bytes_ = 0;  // of the query under way
  int depth_ = 0;
  bool closed_ = false;
};

}  // namespace cronhost::api
