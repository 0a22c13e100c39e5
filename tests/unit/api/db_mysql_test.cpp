// The MySQL/MariaDB engine against a real MariaDB 10.11 (tests/support/dbserver.py): typed
// values both ways, placeholders, transactions, readonly, server errors, the run's deadline,
// a server that dies or never answers, the refused statements, dry runs and caps.
#include "api/db_mysql.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "../support/db_server.hpp"

using namespace cronhost;
using api::DbBytes;
using api::DbFault;
using api::DbValue;
using test::DbKind;
using test::DbServer;
using Clock = std::chrono::steady_clock;

namespace {

config::DatabaseSettings settings_for(const test::DbServerInfo& server, bool readonly = false) {
  config::DatabaseSettings settings;
  settings.engine = config::DbEngine::kMysql;
  settings.url = server.url;
  settings.password = server.password;
  settings.readonly = readonly;
  return settings;
}

// One connection as a run holds it: its effects, its secrets, its deadline.
struct Session {
  explicit Session(const test::DbServerInfo& server, api::EffectMode mode = api::EffectMode::kLive,
                   Clock::duration time = std::chrono::seconds(20), bool readonly = false)
      : settings(settings_for(server, readonly)), effects(mode) {
    redactor.add(server.password);
    scope.effects = &effects;
    scope.redactor = &redactor;
    scope.deadline = Clock::now() + time;
  }
  std::unique_ptr<api::DbConnection> open() {
    auto conn = api::open_mysql("app", settings, scope);
    INFO(conn.message());
    REQUIRE(conn);
    return std::move(conn.value());
  }
  config::DatabaseSettings settings;
  api::EffectLog effects;
  api::Redactor redactor;
  api::DbRunScope scope;
};

api::DbRows rows_of(api::DbConnection& conn, const std::string& sql, const std::vector<DbValue>& params = {}) {
  auto rows = conn.query("conn:query", sql, params);
  INFO(sql << ": " << rows.message());
  REQUIRE(rows);
  return rows.value();
}

int64_t exec(api::DbConnection& conn, const std::string& sql, const std::vector<DbValue>& params = {}) {
  auto changes = conn.exec("conn:exec", sql, params);
  INFO(sql << ": " << changes.message());
  REQUIRE(changes);
  return changes.value();
}

// A fresh table per test: the shared server outlives each.
std::string fresh_table(const std::string& columns) {
  static int counter = 0;
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  DbServer::shared(DbKind::mariadb).sql("CREATE TABLE app." + name + " (" + columns + ")");
  return name;
}

std::string seconds_since(Clock::time_point start) {
  return std::to_string(std::chrono::duration<double>(Clock::now() - start).count()) + " s";
}

}  // namespace

TEST_CASE("MySQL: values round trip by type", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server);
  auto conn = session.open();
  const std::string t = fresh_table(
      "id INT PRIMARY KEY AUTO_INCREMENT, i BIGINT, u BIGINT UNSIGNED, f DOUBLE, d DECIMAL(30,4), "
      "s VARCHAR(50), b VARBINARY(50), flag BOOLEAN, bit1 BIT(1), dt DATETIME(3), ts TIMESTAMP NULL, day DATE, "
      "tm TIME, j JSON, txt TEXT, blb MEDIUMBLOB");
  CHECK(exec(*conn,
             "INSERT INTO " + t + " (i, u, f, d, s, b, flag, bit1, dt, ts, day, tm, j, txt, blb) VALUES "
             "(?, 18446744073709551615, ?, ?, ?, ?, ?, b'1', ?, '2024-05-01 12:00:00', ?, ?, ?, ?, ?)",
             {int64_t{-9007199254740993}, 1.5, std::string("12.5000"), std::string("héllo ✓"),
              DbBytes{std::string("x\0y\xff", 4)}, true, std::string("2024-05-01 12:34:56.789"),
              std::string("2024-02-29"), std::string("-838:59:59"), std::string("{\"a\": [1, 2]}"),
              std::string(1000, 'z'), DbBytes{std::string(70000, '\x01')}}) == 1);
  exec(*conn, "INSERT INTO " + t + " (d) VALUES (?)", {std::string("12345678901234567890.1234")});
  exec(*conn, "INSERT INTO " + t + " (i) VALUES (?)", {nullptr});

  const auto rows = rows_of(*conn, "SELECT i, u, f, d, s, b, flag, bit1, dt, ts, day, tm, j, txt, blb FROM " + t +
                                       " ORDER BY id");
  REQUIRE(rows.rows.size() == 3);
  CHECK(rows.columns == std::vector<std::string>{"i", "u", "f", "d", "s", "b", "flag", "bit1", "dt", "ts", "day",
                                                 "tm", "j", "txt", "blb"});
  const auto& r = rows.rows[0];
  CHECK(r[0] == DbValue{int64_t{-9007199254740993}});
  CHECK(r[1] == DbValue{std::string("18446744073709551615")});  // above int64: exact text
  CHECK(r[2] == DbValue{1.5});
  CHECK(r[3] == DbValue{12.5});                                    // a DECIMAL a double holds exactly
  CHECK(r[4] == DbValue{std::string("héllo ✓")});
  CHECK(r[5] == DbValue{DbBytes{std::string("x\0y\xff", 4)}});
  CHECK(r[6] == DbValue{int64_t{1}});                              // BOOLEAN is TINYINT(1)
  CHECK(r[7] == DbValue{int64_t{1}});                              // BIT(1)
  CHECK(r[8] == DbValue{std::string("2024-05-01T12:34:56.789")});
  CHECK(r[9] == DbValue{std::string("2024-05-01T12:00:00Z")});     // TIMESTAMP: UTC
  CHECK(r[10] == DbValue{std::string("2024-02-29")});
  CHECK(r[11] == DbValue{std::string("-838:59:59")});
  CHECK(r[12] == DbValue{std::string("{\"a\": [1, 2]}")});
  CHECK(r[13] == DbValue{std::string(1000, 'z')});                 // longer than the first buffer
  CHECK(r[14] == DbValue{DbBytes{std::string(70000, '\x01')}});
  CHECK(rows.rows[1][3] == DbValue{std::string("12345678901234567890.1234")});  // too precise for a double
  for (const auto& value : rows.rows[2]) CHECK(std::holds_alternative<std::nullptr_t>(value));

  const auto computed = rows_of(*conn, "SELECT 7 AS n, 0.1 AS tenth, NULL AS nothing, 'O''Brien' AS q, x'00ff' AS raw, ? AS echo",
                                {std::string("a ? inside a value")});
  CHECK(computed.rows[0] == std::vector<DbValue>{int64_t{7}, 0.1, nullptr, std::string("O'Brien"),
                                                 DbBytes{std::string("\0\xff", 2)}, std::string("a ? inside a value")});
}

TEST_CASE("MySQL: placeholders bind values, never SQL, and must match in number", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server);
  auto conn = session.open();
  const std::string t = fresh_table("id INT PRIMARY KEY, name VARCHAR(100)");
  CHECK(exec(*conn, "INSERT INTO " + t + " VALUES (?, ?), (?, ?)", {int64_t{1}, std::string("x'; DROP TABLE " + t + "; --"),
                                                                     int64_t{2}, std::string("b")}) == 2);
  CHECK(rows_of(*conn, "SELECT name FROM " + t + " WHERE id = ?", {int64_t{1}}).rows[0][0] ==
        DbValue{std::string("x'; DROP TABLE " + t + "; --")});
  CHECK(exec(*conn, "UPDATE " + t + " SET name = ? WHERE id > ?", {std::string("b"), int64_t{0}}) == 1);  // rows changed

  auto fewer = conn->query("conn:query", "SELECT * FROM " + t + " WHERE id = ? AND name = ?", {int64_t{1}});
  CHECK(fewer.fault() == DbFault::kMisuse);
  CHECK(fewer.message() == "conn:query: the SQL has 2 placeholders but 1 value was given");
  auto empty = conn->exec("conn:exec", "  -- nothing\n ", {});
  CHECK(empty.fault() == DbFault::kMisuse);
  CHECK(empty.message() == "conn:exec: no SQL statement given");
}

TEST_CASE("MySQL: transactions commit, roll back, and nest as savepoints", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server);
  auto conn = session.open();
  const std::string t = fresh_table("id INT PRIMARY KEY");
  REQUIRE(conn->begin());
  exec(*conn, "INSERT INTO " + t + " VALUES (1)");
  REQUIRE(conn->begin());  // a savepoint
  exec(*conn, "INSERT INTO " + t + " VALUES (2)");
  REQUIRE(conn->rollback());
  REQUIRE(conn->begin());
  exec(*conn, "INSERT INTO " + t + " VALUES (3)");
  REQUIRE(conn->commit());
  CHECK(conn->depth() == 1);
  REQUIRE(conn->commit());
  REQUIRE(conn->begin());
  exec(*conn, "INSERT INTO " + t + " VALUES (4)");
  REQUIRE(conn->rollback());
  CHECK(DbServer::shared(DbKind::mariadb).sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM app." + t) == "1,3\n");
}

TEST_CASE("MySQL: server errors are nil, err naming the database, the connection goes on", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server);
  auto conn = session.open();
  auto syntax = conn->query("conn:query", "SELEC 1", {});
  CHECK(syntax.fault() == DbFault::kServer);
  CHECK_THAT(syntax.message(), Catch::StartsWith("db: app: You have an error in your SQL syntax"));
  auto missing = conn->query("conn:query", "SELECT * FROM no_such_table", {});
  CHECK(missing.message() == "db: app: Table 'app.no_such_table' doesn't exist");
  const std::string t = fresh_table("id INT PRIMARY KEY, small TINYINT");
  auto strict = conn->exec("conn:exec", "INSERT INTO " + t + " VALUES (1, ?)", {int64_t{1000}});
  CHECK(strict.message() == "db: app: Out of range value for column 'small' at row 1");  // strict sql_mode
  CHECK(rows_of(*conn, "SELECT 1").rows.size() == 1);

  auto wrong = Session(server);
  wrong.settings.password = "not-" + server.password;
  auto refused = api::open_mysql("app", wrong.settings, wrong.scope);
  CHECK(refused.fault() == DbFault::kServer);
  CHECK_THAT(refused.message(), Catch::StartsWith("db.open: database 'app': Access denied for user 'cronhost'"));
  CHECK(refused.message().find(server.password) == std::string::npos);
}

TEST_CASE("MySQL: a readonly database reads, and writes are nil, err", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  const std::string t = fresh_table("id INT PRIMARY KEY");
  Session session(server, api::EffectMode::kLive, std::chrono::seconds(20), true);
  auto conn = session.open();
  CHECK(rows_of(*conn, "SELECT COUNT(*) FROM " + t).rows[0][0] == DbValue{int64_t{0}});
  for (const std::string& sql : std::vector<std::string>{"INSERT INTO " + t + " VALUES (1)", "CREATE TABLE ro_made (id INT)",
                                                         "CREATE TEMPORARY TABLE ro_temp (id INT)"}) {
    auto write = conn->exec("conn:exec", sql, {});
    INFO(sql);
    CHECK(write.fault() == DbFault::kServer);
    CHECK(write.message() == "db: app: Cannot execute statement in a READ ONLY transaction");
  }
  auto escape = conn->exec("conn:exec", "SET SESSION TRANSACTION READ WRITE", {});
  CHECK(escape.fault() == DbFault::kRefused);
  CHECK(DbServer::shared(DbKind::mariadb).sql("SELECT COUNT(*) FROM app." + t) == "0\n");
}

TEST_CASE("MySQL: a statement is stopped at the run's deadline (KILL QUERY) and the server goes on", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server, api::EffectMode::kLive, std::chrono::milliseconds(1500));
  auto conn = session.open();
  const auto start = Clock::now();
  auto slept = conn->query("conn:query", "SELECT SLEEP(30)", {});
  const auto took = Clock::now() - start;
  INFO(seconds_since(start) << " " << slept.message());
  CHECK(took < std::chrono::milliseconds(2500));  // the deadline + 1 s
  CHECK(slept.fault() == DbFault::kServer);
  CHECK_THAT(slept.message(), Catch::StartsWith("db: app: stopped") || Catch::StartsWith("db: app: Query execution was interrupted"));
  CHECK(DbServer::shared(DbKind::mariadb).sql("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(30)%'") == "0\n");
  auto after = conn->query("conn:query", "SELECT 1", {});
  CHECK(after.message() == "db: app: stopped: the run's deadline passed or it was cancelled");

  // A cancel stops it the same way, long before the deadline.
  std::atomic<bool> cancel{false};
  Session cancelled(server);
  cancelled.scope.cancelled = [&cancel] { return cancel.load(); };
  auto conn2 = cancelled.open();
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  const auto start2 = Clock::now();
  auto stopped = conn2->query("conn:query", "SELECT SLEEP(30)", {});
  canceller.join();
  INFO(seconds_since(start2));
  CHECK(stopped.fault() == DbFault::kServer);
  CHECK(Clock::now() - start2 < std::chrono::milliseconds(1500));
}

TEST_CASE("MySQL: a server killed mid-query is nil, err at once, one that never answers, nil, err by the deadline",
          "[db][mysql]") {
  DbServer own(DbKind::mariadb);
  {
    Session session(own.info());
    auto conn = session.open();
    std::thread killer([&own] {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      own.kill();
    });
    const auto start = Clock::now();
    auto lost = conn->query("conn:query", "SELECT SLEEP(30)", {});
    killer.join();
    INFO(seconds_since(start));
    CHECK(Clock::now() - start < std::chrono::seconds(3));
    CHECK(lost.fault() == DbFault::kServer);
    CHECK_THAT(lost.message(), Catch::StartsWith("db: app: Lost connection") || Catch::StartsWith("db: app: Server has gone away"));
    auto again = conn->query("conn:query", "SELECT 1", {});
    CHECK(again.message() == "db: app: the connection to the server was lost; open it again with db.open");
  }
  own.restart();
  {
    // Stopped (SIGSTOP): it takes the statement and never answers, nor the KILL QUERY.
    Session session(own.info(), api::EffectMode::kLive, std::chrono::milliseconds(1500));
    auto conn = session.open();
    REQUIRE(::kill(own.info().pid, SIGSTOP) == 0);
    const auto start = Clock::now();
    auto hung = conn->query("conn:query", "SELECT 1", {});
    const auto took = Clock::now() - start;
    ::kill(own.info().pid, SIGCONT);
    INFO(seconds_since(start) << " " << hung.message());
    CHECK(hung.fault() == DbFault::kServer);
    CHECK(took < std::chrono::milliseconds(1500 + 2000));  // deadline + the kill's 1 s connect + 0.5 s
    conn->close();
  }
}

TEST_CASE("MySQL: connecting to a server that never answers ends at the connect timeout", "[db][mysql]") {
  // A socket that listens but never accepts: the handshake completes, no greeting comes.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  auto info = DbServer::shared(DbKind::mariadb).info();
  info.url = "mysql://cronhost@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/app";
  Session session(info);
  session.settings.connect_timeout = std::chrono::milliseconds(1000);
  const auto start = Clock::now();
  auto conn = api::open_mysql("app", session.settings, session.scope);
  INFO(seconds_since(start) << " " << conn.message());
  CHECK(conn.fault() == DbFault::kServer);
  CHECK_THAT(conn.message(), Catch::StartsWith("db.open: database 'app': "));
  CHECK(Clock::now() - start < std::chrono::milliseconds(2500));
  ::close(listener);

  Session bad(info);
  bad.settings.url = "mysql://cronhost@127.0.0.1:99999/app";
  auto url = api::open_mysql("app", bad.settings, bad.scope);
  CHECK(url.fault() == DbFault::kMisuse);
  CHECK(url.message() == "db.open: database 'app': the port '99999' in the URL is not a number from 1 to 65535");
}

TEST_CASE("MySQL: file access, transaction control and several statements are refused, naming the rule",
          "[db][mysql][security]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server);
  auto conn = session.open();
  const std::string t = fresh_table("id INT");
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE " + t, "LOAD DATA is refused: it reads files"},
      {"load data infile '/etc/passwd' into table " + t, "LOAD DATA is refused: it reads files"},
      {"LOAD XML LOCAL INFILE '/etc/passwd' INTO TABLE " + t, "LOAD XML is refused: it reads files"},
      {"SELECT * FROM " + t + " INTO OUTFILE '/tmp/out.txt'", "SELECT ... INTO OUTFILE is refused: it writes a file"},
      {"SELECT 1 INTO DUMPFILE '/tmp/out.bin'", "SELECT ... INTO DUMPFILE is refused: it writes a file"},
      {"SELECT LOAD_FILE('/etc/passwd')", "load_file() is refused"},
      {"SELECT `load_file`('/etc/passwd')", "load_file() is refused"},
      {"SELECT /*!LOAD_FILE('/etc/passwd')*/", "load_file() is refused"},
      {"SELECT 1; SELECT 2", "one SQL statement per call: this SQL holds 2"},
      {"INSERT INTO " + t + " VALUES (1); DROP TABLE " + t, "one SQL statement per call: this SQL holds 2"},
      {"COMMIT", "COMMIT is refused: use conn:transaction(fn)"},
      {"start transaction", "START is refused: use conn:transaction(fn)"},
      {"SET autocommit = 0", "SET of autocommit"},
      {"SET SESSION max_statement_time = 0", "SET of autocommit"},
      {"PREPARE s FROM 'SELECT 1'", "PREPARE, EXECUTE and EXECUTE IMMEDIATE are refused"},
  };
  for (const auto& [sql, rule] : refused) {
    auto r = conn->exec("conn:exec", sql, {});
    INFO(sql << " -> " << r.message());
    CHECK(r.fault() == DbFault::kRefused);
    CHECK_THAT(r.message(), Catch::StartsWith("db: app: " + rule));
  }
  // Still one statement: a ';' inside a string, a comment, or at the end.
  CHECK(rows_of(*conn, "SELECT 'a;b' AS s -- ; SELECT 2\n;").rows[0][0] == DbValue{std::string("a;b")});
  CHECK(DbServer::shared(DbKind::mariadb).sql("SELECT COUNT(*) FROM app." + t) == "0\n");
}

TEST_CASE("MySQL: a dry run rolls back at close, DDL is captured, not run", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  const std::string t = fresh_table("id INT PRIMARY KEY");
  DbServer::shared(DbKind::mariadb).sql("INSERT INTO app." + t + " VALUES (1), (2), (3)");
  Session session(server, api::EffectMode::kDryRun);
  auto conn = session.open();
  CHECK(exec(*conn, "DELETE FROM " + t + " WHERE id < ?", {int64_t{3}}) == 2);
  CHECK(rows_of(*conn, "SELECT COUNT(*) FROM " + t).rows[0][0] == DbValue{int64_t{1}});  // reads see it
  auto duplicate = conn->exec("conn:exec", "INSERT INTO " + t + " VALUES (3)", {});  // fails, the rest stays
  CHECK(duplicate.fault() == DbFault::kServer);
  CHECK(rows_of(*conn, "SELECT COUNT(*) FROM " + t).rows[0][0] == DbValue{int64_t{1}});
  CHECK(exec(*conn, "DROP TABLE " + t) == 0);  // would commit: captured only
  CHECK(exec(*conn, "CREATE TEMPORARY TABLE scratch (id INT)") == 0);  // commits nothing: runs
  CHECK(exec(*conn, "INSERT INTO scratch VALUES (1)") == 1);
  REQUIRE(conn->begin());
  exec(*conn, "INSERT INTO " + t + " VALUES (9)");
  REQUIRE(conn->commit());
  conn->close();
  CHECK(DbServer::shared(DbKind::mariadb).sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM app." + t) == "1,2,3\n");
  const auto& effects = session.effects.captured();
  REQUIRE(effects.size() == 5);
  CHECK(effects[0].summary == "app: DELETE FROM " + t + " WHERE id < ? (params: 1) -> 2 rows (rolled back)");
  CHECK(effects[1].summary == "app: DROP TABLE " + t + " -> 0 rows (not run in a dry run)");
  CHECK(effects[2].summary == "app: CREATE TEMPORARY TABLE scratch (id INT) -> 0 rows (rolled back)");
  CHECK(effects[3].summary == "app: INSERT INTO scratch VALUES (1) -> 1 row (rolled back)");
  CHECK(effects[4].summary == "app: INSERT INTO " + t + " VALUES (9) -> 1 row (rolled back)");
}

TEST_CASE("MySQL: a query past the row cap is an error, and the connection goes on", "[db][mysql]") {
  const auto& server = DbServer::shared(DbKind::mariadb).info();
  Session session(server);
  auto conn = session.open();
  const auto start = Clock::now();
  auto big = conn->query("conn:query", "SELECT seq FROM seq_1_to_10000000", {});
  INFO(seconds_since(start));
  CHECK(big.fault() == DbFault::kServer);
  CHECK(big.message() == "db: app: the query returned more than 100000 rows (the cap of one query); select fewer, or page with LIMIT");
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  CHECK(rows_of(*conn, "SELECT COUNT(*) FROM seq_1_to_100000").rows[0][0] == DbValue{int64_t{100000}});
}

TEST_CASE("MySQL: TLS as tls.mode asks: verified against tls.ca, refused with a CA that did not sign it",
          "[db][mysql][tls]") {
  DbServer server(DbKind::mariadb, {.tls = true});
  const auto& info = server.info();
  REQUIRE_FALSE(info.ca.empty());
  const auto cipher = [](api::DbConnection& conn) {
    const auto rows = rows_of(conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    REQUIRE(rows.rows.size() == 1);
    return std::get<std::string>(rows.rows[0][1]);
  };
  for (const std::string mode : {"verify-full", "verify-ca"}) {
    Session verified(info);
    verified.settings.tls = {mode, info.ca};
    auto conn = verified.open();
    INFO(mode);
    CHECK(cipher(*conn) != "");
  }
  Session required(info);
  required.settings.tls = {"require", {}};
  CHECK(cipher(*required.open()) != "");
  Session plain(info);
  plain.settings.tls = {"disable", {}};
  CHECK(cipher(*plain.open()) == "");

  Session wrong(info);
  wrong.settings.tls = {"verify-full", "/etc/ssl/certs/ca-certificates.crt"};  // the public CAs
  auto refused = api::open_mysql("app", wrong.settings, wrong.scope);
  INFO(refused.message());
  CHECK(refused.fault() == DbFault::kServer);
  CHECK_THAT(refused.message(), Catch::StartsWith("db.open: database 'app': "));
}
