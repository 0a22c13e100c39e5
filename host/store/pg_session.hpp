// One libpq connection to the PostgreSQL state store, opened from a config::DatabaseSettings
// (url without the password, the password separate, tls as sslmode/sslrootcert). Statements
// take text parameters (nullopt: NULL) and return rows of text. A connection found lost (the
// server gone or restarting, SQLSTATE class 08, 57P01-57P03) is opened again on the next use,
// no sooner than a backoff of 100 ms doubling to 1 s after the last failed attempt, so a dead
// server costs a caller one refused connect, not a wait. Messages never hold the password.
// Not thread-safe: one thread uses a session at a time (the store's writer thread).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/host_config.hpp"
#include "util/status.hpp"

typedef struct pg_conn PGconn;  // libpq-fe.h's own declaration: its headers stay in the .cpp files

namespace cronhost::store {

using PgParam = std::optional<std::string>;
using PgRow = std::vector<std::optional<std::string>>;

struct PgRows {
  std::vector<PgRow> rows;
  int64_t affected = 0;  // rows an INSERT, UPDATE or DELETE touched (PQcmdTuples)
};

// A failed statement or connection. Thrown only inside the store's files (store/pg_*.cpp);
// every Store method turns it into a Status.
class PgError : public std::runtime_error {
 public:
  PgError(std::string message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)), connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // The connection is gone (or could not be opened): the statement may succeed on a new one.
  bool connection_lost() const { return connection_lost_; }
  // Whether trying the same transaction again later may succeed: a lost connection, a
  // serialization failure or deadlock (40*), the server short of resources (53*), a lock or
  // statement timeout (55P03, 57014).
  bool worth_retrying() const;

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

class PgSession {
 public:
  // Runs after every successful connect (the daemon re-takes its advisory lock there); an
  // error closes the connection again and counts as a failed connect.
  using OnConnect = std::function<Status(PgSession&)>;

  // `mode` names the connection in pg_stat_activity: application_name cronhost/<mode>.
  // Connects on first use.
  PgSession(config::DatabaseSettings settings, std::string mode, OnConnect on_connect = {});
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Runs one statement; throws PgError. Connects (or reconnects, after the backoff) first.
  PgRows run(const std::string& sql, const std::vector<PgParam>& params = {});
  // The same, as a Result.
  Result<PgRows> exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // Connects now if not connected; the error (with the url, not the password) if it cannot.
  Status connect();

  // Whether a transaction is open (or failed and not yet rolled back) on a live connection.
  bool in_transaction() const;
  // INSERT/UPDATE/DELETE rows touched since the session began (sqlite3_total_changes64's role).
  int64_t total_changes() const { return total_changes_; }
  const std::string& url() const { return settings_.url; }
  // The open connection, or null. For migrate_pg_state and pg_state_version.
  PGconn* raw() const { return conn_; }

 private:
  void open();
  void drop(const std::string& why);
  std::string redact(std::string message) const;

  const config::DatabaseSettings settings_;
  const std::string application_;
  const OnConnect on_connect_;
  PGconn* conn_ = nullptr;
  std::string last_error_;  // why the last connect failed or the connection was lost
  std::chrono::steady_clock::time_point next_try_{};
  std::chrono::milliseconds backoff_{0};
  int64_t total_changes_ = 0;
};

}  // namespace cronhost::store
