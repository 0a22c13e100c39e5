// The PostgreSQL engine against a real PostgreSQL 15 (tests/support/dbserver.py): types,
// placeholders, transactions, readonly, errors as kServer, the deadline and cancel, a server
// killed mid-query, the refused statements, the dry run and the caps.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "../support/db_server.hpp"
#include "api/db_postgres.hpp"

using namespace cronhost;
using namespace cronhost::api;
using test::DbKind;
using test::DbServer;
using Clock = std::chrono::steady_clock;

namespace {

config::DatabaseSettings settings_for(const test::DbServerInfo& server, bool readonly = false) {
  config::DatabaseSettings s;
  s.engine = config::DbEngine::kPostgresql;
  s.url = server.url;
  s.password = server.password;
  s.connect_timeout = std::chrono::seconds(5);
  s.readonly = readonly;
  return s;
}

// One connection as a run would hold it: its settings, effects and redactor outlive it.
struct Session {
  explicit Session(const test::DbServerInfo& server, EffectMode mode = EffectMode::kLive, bool readonly = false,
                   Clock::duration time_left = std::chrono::seconds(20))
      : settings(settings_for(server, readonly)), effects(mode) {
    redactor.add(server.password);
    scope.effects = &effects;
    scope.redactor = &redactor;
    scope.deadline = Clock::now() + time_left;
    scope.cancelled = [this] { return cancelled.load(); };
    auto opened = open_postgres("app", settings, scope, "cronhost/test");
    INFO(opened.message());
    REQUIRE(opened);
    conn = std::move(opened.value());
  }
  DbRows query(const std::string& sql, const std::vector<DbValue>& params = {}) {
    auto rows = conn->query("conn:query", sql, params);
    INFO(sql << ": " << rows.message());
    REQUIRE(rows);
    return rows.value();
  }
  int64_t exec(const std::string& sql, const std::vector<DbValue>& params = {}) {
    auto n = conn->exec("conn:exec", sql, params);
    INFO(sql << ": " << n.message());
    REQUIRE(n);
    return n.value();
  }

  config::DatabaseSettings settings;
  EffectLog effects;
  Redactor redactor;
  DbRunScope scope;
  std::atomic<bool> cancelled{false};
  std::unique_ptr<DbConnection> conn;
};

const test::DbServerInfo& shared_pg() { return DbServer::shared(DbKind::postgres).info(); }

// A table of the test's own, so that tests sharing the server do not meet.
std::string fresh_table(const std::string& name) {
  DbServer::shared(DbKind::postgres).sql("DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name +
                                         " (id int PRIMARY KEY, note text); GRANT ALL ON " + name + " TO " +
                                         shared_pg().user);
  return name;
}

}  // namespace

TEST_CASE("postgres: values round trip with their types", "[db][postgres]") {
  Session s(shared_pg());
  const auto rows = s.query(
      "SELECT ?::int8 AS i, ?::float8 AS f, ?::text AS t, ?::bool AS b, ?::bytea AS y, ? AS n, "
      "42::int2 AS small, 7::int4 AS mid, 2.5::float4 AS single, 12.50::numeric AS fits, "
      "12345678901234567890.123::numeric AS wide, 'NaN'::numeric AS nan, "
      "'2026-12-03 10:20:30.5+00'::timestamptz AS tz, '2026-12-03 10:20:30'::timestamp AS ts, "
      "'2026-12-03'::date AS d, '10:20:30'::time AS tm, '{\"a\": [1, 2]}'::jsonb AS j, "
      "'6f1c5a52-3f0a-4e4f-9d0b-1d1a2b3c4d5e'::uuid AS u, 'P1D'::interval AS iv",
      {int64_t{9007199254740993}, 0.1, std::string("it's \xC3\xA9 ?"), true, DbBytes{std::string("a\0b\xff", 4)}, nullptr});
  REQUIRE(rows.rows.size() == 1);
  const auto& r = rows.rows[0];
  CHECK(rows.columns == std::vector<std::string>{"i", "f", "t", "b", "y", "n", "small", "mid", "single", "fits", "wide",
                                                 "nan", "tz", "ts", "d", "tm", "j", "u", "iv"});
  CHECK(r[0] == DbValue(int64_t{9007199254740993}));
  CHECK(r[1] == DbValue(0.1));
  CHECK(r[2] == DbValue(std::string("it's \xC3\xA9 ?")));
  CHECK(r[3] == DbValue(true));
  CHECK(r[4] == DbValue(DbBytes{std::string("a\0b\xff", 4)}));
  CHECK(r[5] == DbValue(nullptr));
  CHECK(r[6] == DbValue(int64_t{42}));
  CHECK(r[7] == DbValue(int64_t{7}));
  CHECK(r[8] == DbValue(2.5));
  CHECK(r[9] == DbValue(12.5));
  CHECK(r[10] == DbValue(std::string("12345678901234567890.123")));  // a double would lose digits
  CHECK(r[11] == DbValue(std::string("NaN")));
  CHECK(r[12] == DbValue(std::string("2026-12-03T10:20:30.5Z")));
  CHECK(r[13] == DbValue(std::string("2026-12-03T10:20:30")));
  CHECK(r[14] == DbValue(std::string("2026-12-03")));
  CHECK(r[15] == DbValue(std::string("10:20:30")));
  CHECK(r[16] == DbValue(std::string("{\"a\": [1, 2]}")));
  CHECK(r[17] == DbValue(std::string("6f1c5a52-3f0a-4e4f-9d0b-1d1a2b3c4d5e")));
  CHECK(r[18] == DbValue(std::string("P1D")));
  // Text binds to whatever the statement wants: a timestamp, a jsonb, an integer column.
  const auto typed = s.query("SELECT '2026-12-31T23:00:00Z'::timestamptz = ? AS t, (?::jsonb)->>'k' AS k, 5 = ? AS same",
                             {std::string("2026-12-31 23:00:00+00"), std::string("{\"k\": \"v\"}"), std::string("5")});
  CHECK(typed.rows[0][0] == DbValue(true));
  CHECK(typed.rows[0][1] == DbValue(std::string("v")));
  CHECK(typed.rows[0][2] == DbValue(true));
}

TEST_CASE("postgres: ? placeholders, also beside ? inside literals, identifiers and comments", "[db][postgres]") {
  const auto table = fresh_table("pg_placeholders");
  Session s(shared_pg());
  CHECK(s.exec("INSERT INTO " + table + " (id, note) VALUES (?, '?'), (?, E'\\'?') -- more?", {int64_t{1}, int64_t{2}}) == 2);
  const auto rows = s.query("SELECT id AS \"id?\", note FROM " + table + " /* ? */ WHERE id > ? AND note LIKE $$%?%$$ ORDER BY id",
                            {int64_t{0}});
  REQUIRE(rows.rows.size() == 2);
  CHECK(rows.columns[0] == "id?");
  CHECK(rows.rows[1][1] == DbValue(std::string("'?")));
  auto wrong = s.conn->query("conn:query", "SELECT ?, ?", {int64_t{1}});
  CHECK(wrong.fault() == DbFault::kMisuse);
  CHECK(wrong.message() == "conn:query: the SQL has 2 placeholders but 1 value was given");
  auto numbered = s.conn->query("conn:query", "SELECT $1", {int64_t{1}});
  CHECK(numbered.fault() == DbFault::kMisuse);
  CHECK_THAT(numbered.message(), Catch::Contains("write ? placeholders"));
  // jsonb's ? operator is a placeholder here; jsonb_exists() says the same.
  CHECK(s.query("SELECT jsonb_exists(?::jsonb, ?) AS has", {std::string("{\"a\":1}"), std::string("a")}).rows[0][0] ==
        DbValue(true));
}

TEST_CASE("postgres: transactions commit, roll back and nest, a failed statement undoes only itself", "[db][postgres]") {
  const auto table = fresh_table("pg_transactions");
  Session s(shared_pg());
  REQUIRE(s.conn->begin());
  s.exec("INSERT INTO " + table + " VALUES (1, 'kept')");
  REQUIRE(s.conn->begin());  // a savepoint
  s.exec("INSERT INTO " + table + " VALUES (2, 'undone')");
  REQUIRE(s.conn->rollback());
  auto dup = s.conn->exec("conn:exec", "INSERT INTO " + table + " VALUES (1, 'again')", {});
  CHECK(dup.fault() == DbFault::kServer);
  CHECK(dup.message() == "db: app: duplicate key value violates unique constraint \"pg_transactions_pkey\"");
  s.exec("INSERT INTO " + table + " VALUES (3, 'after the error')");  // the transaction goes on
  REQUIRE(s.conn->commit());
  REQUIRE(s.conn->begin());
  s.exec("INSERT INTO " + table + " VALUES (4, 'rolled back')");
  REQUIRE(s.conn->rollback());
  CHECK(DbServer::shared(DbKind::postgres).sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + table) == "1,3\n");
}

TEST_CASE("postgres: a readonly database refuses writes, also after the script's own SET", "[db][postgres]") {
  const auto table = fresh_table("pg_readonly");
  Session s(shared_pg(), EffectMode::kLive, true);
  CHECK(s.query("SELECT count(*) AS n FROM " + table).rows[0][0] == DbValue(int64_t{0}));
  auto write = s.conn->exec("conn:exec", "INSERT INTO " + table + " VALUES (1, 'x')", {});
  CHECK(write.fault() == DbFault::kServer);
  CHECK(write.message() == "db: app: cannot execute INSERT in a read-only transaction");
  s.exec("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE");
  CHECK_FALSE(s.conn->exec("conn:exec", "INSERT INTO " + table + " VALUES (1, 'x')", {}));
  REQUIRE(s.conn->begin());
  auto lift = s.conn->exec("conn:exec", "SET TRANSACTION READ WRITE", {});
  CHECK(lift.message() == "db: app: cannot set transaction read-write mode inside a read-only transaction");
  CHECK_FALSE(s.conn->exec("conn:exec", "INSERT INTO " + table + " VALUES (1, 'x')", {}));
  REQUIRE(s.conn->rollback());
  CHECK(DbServer::shared(DbKind::postgres).sql("SELECT count(*) FROM " + table) == "0\n");
}

TEST_CASE("postgres: server errors are kServer with the server's words, a bad login names no password", "[db][postgres]") {
  Session s(shared_pg());
  auto missing = s.conn->query("conn:query", "SELECT * FROM no_such_table", {});
  CHECK(missing.fault() == DbFault::kServer);
  CHECK(missing.message() == "db: app: relation \"no_such_table\" does not exist");
  auto syntax = s.conn->query("conn:query", "SELEC 1", {});
  CHECK(syntax.message() == "db: app: syntax error at or near \"SELEC\"");
  CHECK(s.query("SELECT 1 AS one").rows[0][0] == DbValue(int64_t{1}));  // still usable

  auto settings = settings_for(shared_pg());
  settings.password = "wrong-password-123";
  Redactor redactor;
  redactor.add(settings.password);
  EffectLog effects;
  DbRunScope scope{&effects, &redactor};
  auto denied = open_postgres("app", settings, scope, "cronhost/test");
  REQUIRE_FALSE(denied);
  CHECK(denied.fault() == DbFault::kServer);
  CHECK_THAT(denied.message(), Catch::StartsWith("db.open: database 'app': ") &&
                                   Catch::Contains("password authentication failed for user \"" + shared_pg().user + "\""));
  CHECK(denied.message().find("wrong-password-123") == std::string::npos);
}

TEST_CASE("postgres: nothing listening, or a port that never answers, fails within the connect timeout", "[db][postgres]") {
  auto settings = settings_for(shared_pg());
  settings.url = "postgresql://cronhost@127.0.0.1:1/app";
  settings.connect_timeout = std::chrono::milliseconds(500);
  EffectLog effects;
  DbRunScope scope{&effects};
  auto refused = open_postgres("app", settings, scope, "cronhost/test");
  CHECK_THAT(refused.message(), Catch::StartsWith("db.open: database 'app': ") && Catch::Contains("refused"));
  // A listener that never speaks: the connect timeout ends the wait.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  settings.url = "postgresql://cronhost@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/app";
  const auto start = Clock::now();
  auto silent = open_postgres("app", settings, scope, "cronhost/test");
  const auto took = Clock::now() - start;
  ::close(listener);
  CHECK(silent.message() == "db.open: database 'app': no connection within the connect timeout of 500 ms");
  CHECK(took < std::chrono::milliseconds(1500));
}

TEST_CASE("postgres: a statement stops at the run's deadline and at its cancel", "[db][postgres]") {
  {
    Session s(shared_pg(), EffectMode::kLive, false, std::chrono::milliseconds(800));
    const auto start = Clock::now();
    auto slept = s.conn->query("conn:query", "SELECT pg_sleep(30)", {});
    const auto took = Clock::now() - start;
    CHECK(slept.fault() == DbFault::kServer);
    CHECK(slept.message() == "db: app: the statement was stopped at the run's deadline");
    CHECK(took < std::chrono::milliseconds(1800));
  }
  {
    Session s(shared_pg());
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      s.cancelled = true;
    });
    const auto start = Clock::now();
    auto slept = s.conn->query("conn:query", "SELECT pg_sleep(30)", {});
    const auto took = Clock::now() - start;
    canceller.join();
    CHECK(slept.message() == "db: app: the statement was stopped: the run was cancelled");
    CHECK(took < std::chrono::milliseconds(1300));
  }
  // The server is not left running it.
  CHECK(DbServer::shared(DbKind::postgres).sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' "
                                               "AND state = 'active'") == "0\n");
}

TEST_CASE("postgres: a server killed mid-query is nil, err at once, and the connection says it is lost", "[db][postgres]") {
  DbServer own(DbKind::postgres);
  Session s(own.info());
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    own.kill();
  });
  const auto start = Clock::now();
  auto slept = s.conn->query("conn:query", "SELECT pg_sleep(30)", {});
  const auto took = Clock::now() - start;
  killer.join();
  CHECK(slept.fault() == DbFault::kServer);
  CHECK(slept.message() == "db: app: server closed the connection unexpectedly");
  CHECK(took < std::chrono::seconds(3));
  auto after = s.conn->query("conn:query", "SELECT 1", {});
  CHECK(after.message() == "db: app: the connection to the server was lost; open it again");
  s.conn->close();  // no hang on a dead server
}

TEST_CASE("postgres: refused statements name the rule and never reach the server", "[db][postgres]") {
  Session s(shared_pg());
  for (const auto& [sql, message] : std::vector<std::pair<std::string, std::string>>{
           {"COPY pg_class TO STDOUT", "db: app: COPY is refused: it reads or writes files or programs on the database "
                                       "server (use conn:query / conn:exec with rows)"},
           {"copy (select 1) to program 'id'", "db: app: COPY is refused: it reads or writes files or programs on the "
                                               "database server (use conn:query / conn:exec with rows)"},
           {"SELECT pg_read_file('/etc/passwd')", "db: app: pg_read_file() is refused: it reads or writes files on the "
                                                  "database server"},
           {"SELECT lo_import('/etc/passwd')", "db: app: lo_import() is refused: it reads a file on the database server "
                                               "(bind the bytes as a value instead)"},
           {"SELECT 1; SELECT 2", "db: app: one SQL statement per call: this SQL holds 2 (run them one at a time, "
                                  "inside conn:transaction when they belong together)"},
           {"BEGIN", "db: app: BEGIN is refused: use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, "
                     "SAVEPOINT or RELEASE"},
       }) {
    INFO(sql);
    auto refused = s.conn->exec("conn:exec", sql, {});
    CHECK(refused.fault() == DbFault::kRefused);
    CHECK(refused.message() == message);
  }
  CHECK(s.query("SELECT 'COPY t TO ''/tmp/x''' AS text -- pg_read_file('x')").rows.size() == 1);
  auto empty = s.conn->exec("conn:exec", "  -- nothing\n", {});
  CHECK(empty.fault() == DbFault::kMisuse);
}

TEST_CASE("postgres: a dry run rolls everything back and captures the writes", "[db][postgres]") {
  const auto table = fresh_table("pg_dry_run");
  DbServer::shared(DbKind::postgres).sql("INSERT INTO pg_dry_run VALUES (1, 'old')");
  {
    Session s(shared_pg(), EffectMode::kDryRun);
    CHECK(s.exec("UPDATE " + table + " SET note = ? WHERE id = ?", {std::string("new"), int64_t{1}}) == 1);
    CHECK(s.query("SELECT note FROM " + table).rows[0][0] == DbValue(std::string("new")));  // seen inside the run
    CHECK_FALSE(s.conn->exec("conn:exec", "INSERT INTO " + table + " VALUES (1, 'dup')", {}));
    CHECK(s.exec("INSERT INTO " + table + " VALUES (2, 'two')") == 1);  // the error poisoned nothing
    REQUIRE(s.conn->begin());
    CHECK(s.exec("DELETE FROM " + table) == 2);
    REQUIRE(s.conn->commit());
    s.conn->close();
    const auto& captured = s.effects.captured();
    REQUIRE(captured.size() == 3);
    CHECK(captured[0].summary == "app: UPDATE pg_dry_run SET note = ? WHERE id = ? (params: 2) -> 1 row (rolled back)");
    CHECK(captured[1].summary == "app: INSERT INTO pg_dry_run VALUES (2, 'two') -> 1 row (rolled back)");
    CHECK(captured[2].summary == "app: DELETE FROM pg_dry_run -> 2 rows (rolled back)");
  }
  CHECK(DbServer::shared(DbKind::postgres).sql("SELECT string_agg(id || ':' || note, ',') FROM " + table) == "1:old\n");
}

TEST_CASE("postgres: a query past the caps fails naming the cap, and the connection goes on", "[db][postgres]") {
  Session s(shared_pg());
  auto many = s.conn->query("conn:query", "SELECT g FROM generate_series(1, 200000) AS g", {});
  CHECK(many.fault() == DbFault::kServer);
  CHECK(many.message() == "db: app: the query returned more than 100000 rows (the cap of one query); select fewer, or "
                          "page with LIMIT");
  auto big = s.conn->query("conn:query", "SELECT repeat('x', 1048576) AS mb FROM generate_series(1, 80)", {});
  CHECK_THAT(big.message(), Catch::Contains("more than 64 MiB"));
  CHECK(s.query("SELECT 2 AS two").rows[0][0] == DbValue(int64_t{2}));
}

TEST_CASE("postgres: tls.mode verify-full with tls.ca connects over TLS, another CA is refused", "[db][postgres][tls]") {
  DbServer tls_server(DbKind::postgres, {.tls = true});
  const auto& info = tls_server.info();
  REQUIRE_FALSE(info.ca.empty());
  auto settings = settings_for(info);
  settings.tls = {"verify-full", info.ca};
  EffectLog effects;
  DbRunScope scope{&effects};
  scope.deadline = Clock::now() + std::chrono::seconds(20);
  auto conn = open_postgres("app", settings, scope, "cronhost/tls-test");
  INFO(conn.message());
  REQUIRE(conn);
  auto ssl = conn.value()->query("conn:query", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", {});
  REQUIRE(ssl);
  CHECK(ssl->rows[0][0] == DbValue(true));
  auto named = conn.value()->query("conn:query", "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()", {});
  CHECK(named->rows[0][0] == DbValue(std::string("cronhost/tls-test")));

  // The CA of another server: the certificate does not verify.
  DbServer other(DbKind::postgres, {.tls = true});
  settings.tls.ca = other.info().ca;
  auto refused = open_postgres("app", settings, scope, "cronhost/tls-test");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.message(), Catch::StartsWith("db.open: database 'app': ") && Catch::Contains("certificate verify failed"));
}

TEST_CASE("postgres: the server reads strings as the refusal check did, whatever the script SETs", "[db][postgres]") {
  // With standard_conforming_strings off, 'a\' ' would go on past the second quote, and text
  // the check saw as a literal would run as code. The host sets it on again before a statement.
  Session s(shared_pg());
  s.exec("SET standard_conforming_strings = off");
  CHECK(s.query("SELECT 'a\\' AS x").rows[0][0] == DbValue(std::string("a\\")));
  CHECK(s.query("SHOW standard_conforming_strings").rows[0][0] == DbValue(std::string("on")));
}
