// Test helper: throwaway PostgreSQL 15 and MariaDB 10.11 servers for Catch2 tests. Each
// DbServer runs tests/support/dbserver.py as its supervisor (one process per server), reads
// the JSON line it prints, and stops it in the destructor: no server process and no folder
// is left. If the test process dies instead, the supervisor sees its stdin pipe close (and
// gets SIGTERM when the thread that started it exits) and cleans up the same way.
//
//   const auto& pg = DbServer::shared(DbKind::postgres).info();   // started once per process
//   connect to pg.host:pg.port as pg.user/pg.password, database pg.database (= "app")
//   DbServer::shared(DbKind::postgres).sql("CREATE TABLE t (id int)");   // as superuser
//
// Not thread-safe: start, use and stop a server from the test's main thread.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace cronhost::test {

enum class DbKind { postgres, mariadb };

// What the supervisor printed. `socket` is what the client library takes: the folder for
// libpq (host=), the socket file for Connector/C (unix_socket); `ca` is empty without TLS.
struct DbServerInfo {
  std::string kind;
  std::string host;  // 127.0.0.1
  int port = 0;
  std::string user;      // cronhost (password login over TCP)
  std::string password;
  std::string database;  // app
  std::string url;       // postgresql://cronhost@127.0.0.1:PORT/app or mysql://...
  std::string socket;
  std::string socket_dir;
  std::string superuser;  // postgres / root: trusted over the socket, password over TCP
  std::string superuser_password;
  std::string ca;
  std::string dir;
  pid_t pid = 0;  // the server (postmaster / mariadbd)
  double startup_seconds = 0;
};

// The outcome of a command-line client run.
struct ClientResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Who a client run logs in as: the superuser over the unix socket, or the app user with its
// password over TCP (verifying TLS against the CA when the server has one).
enum class DbLogin { superuser, app_user };

// Runs one statement through psql / mariadb (tab-separated rows, no header) within 30 s.
ClientResult run_client(const DbServerInfo& server, const std::string& statement,
                        DbLogin login = DbLogin::superuser);

struct DbServerOptions {
  bool tls = false;  // a CA and a server certificate; info().ca names the CA
  std::string auth;  // MariaDB: "ed25519" for the app user instead of mysql_native_password
};

class DbServer {
 public:
  // Starts a server (2-6 s on a loaded 2-core machine). Throws std::runtime_error with the
  // supervisor's message when it cannot.
  explicit DbServer(DbKind kind, DbServerOptions options = {});
  // Stops the server and removes its folder (SIGKILL and removal after 30 s at the latest).
  ~DbServer();
  DbServer(const DbServer&) = delete;
  DbServer& operator=(const DbServer&) = delete;

  // One server per kind for the whole test process, started on first use, stopped at exit.
  // Tests that kill or restart a server make their own instead.
  static DbServer& shared(DbKind kind);

  const DbServerInfo& info() const { return info_; }

  // Runs statement as superuser over the socket -> its output; throws std::runtime_error
  // with the client's message when it fails.
  std::string sql(const std::string& statement) const;

  // kill -9 the server and its children (the folder stays); throws if not confirmed.
  void kill();
  // Starts the server again on the same data and port (after kill(): crash recovery).
  void restart();

 private:
  void shut_down();
  std::string read_line(double timeout_seconds);
  void expect_event(const std::string& event);

  pid_t supervisor_ = -1;
  int to_supervisor_ = -1;    // its stdin: closing it stops the server
  int from_supervisor_ = -1;  // its stdout: JSON lines
  std::string pending_;       // bytes read past the last line
  DbServerInfo info_;
};

}  // namespace cronhost::test
