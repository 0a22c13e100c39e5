// One-row query over loopback against a throwaway MariaDB (tests/support/dbserver.py): through
// the db API, through Connector/C directly (the same prepared-statement calls, and the text
// protocol), and through the `mariadb` client fed the same statement in a loop. The API's own
// cost is the first minus the second.
#include <benchmark/benchmark.h>
#include <mysql.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "api/db_mysql.hpp"
#include "support/db_server.hpp"

using namespace cronhost;

namespace {

constexpr const char* kQuery = "SELECT id, name FROM bench_people WHERE id = ?";

const test::DbServerInfo& server() {
  static const test::DbServerInfo& info = []() -> const test::DbServerInfo& {
    auto& shared = test::DbServer::shared(test::DbKind::mariadb);
    shared.sql("CREATE TABLE IF NOT EXISTS app.bench_people (id INT PRIMARY KEY, name VARCHAR(50));"
               "REPLACE INTO app.bench_people VALUES (1, 'ann'), (2, 'bob')");
    return shared.info();
  }();
  return info;
}

MYSQL* raw_connect() {
  const auto& s = server();
  MYSQL* db = mysql_init(nullptr);
  if (!mysql_real_connect(db, s.host.c_str(), s.user.c_str(), s.password.c_str(), s.database.c_str(),
                          static_cast<unsigned>(s.port), nullptr, 0))
    throw std::runtime_error(mysql_error(db));
  return db;
}

void BM_DbApiQuery(benchmark::State& state) {
  const auto& s = server();
  config::DatabaseSettings settings;
  settings.engine = config::DbEngine::kMysql;
  settings.url = s.url;
  settings.password = s.password;
  api::EffectLog effects;
  api::DbRunScope scope;
  scope.effects = &effects;
  scope.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  auto conn = api::open_mysql("app", settings, scope);
  if (!conn) throw std::runtime_error(conn.message());
  for (auto _ : state) {
    auto rows = conn.value()->query("conn:query", kQuery, {int64_t{1}});
    if (!rows || rows->rows.size() != 1) state.SkipWithError(rows.message().c_str());
    benchmark::DoNotOptimize(rows);
  }
}
BENCHMARK(BM_DbApiQuery)->Unit(benchmark::kMicrosecond);

// What the engine does per call, without the engine: prepare, bind, execute, fetch, close.
void BM_ConnectorCPrepared(benchmark::State& state) {
  MYSQL* db = raw_connect();
  for (auto _ : state) {
    MYSQL_STMT* stmt = mysql_stmt_init(db);
    mysql_stmt_prepare(stmt, kQuery, std::strlen(kQuery));
    long long id = 1;
    MYSQL_BIND param{};
    param.buffer_type = MYSQL_TYPE_LONGLONG;
    param.buffer = &id;
    mysql_stmt_bind_param(stmt, &param);
    mysql_stmt_execute(stmt);
    long long got = 0;
    char name[64];
    unsigned long name_length = 0;
    MYSQL_BIND result[2]{};
    result[0].buffer_type = MYSQL_TYPE_LONGLONG;
    result[0].buffer = &got;
    result[1].buffer_type = MYSQL_TYPE_STRING;
    result[1].buffer = name;
    result[1].buffer_length = sizeof name;
    result[1].length = &name_length;
    mysql_stmt_bind_result(stmt, result);
    int rows = 0;
    while (mysql_stmt_fetch(stmt) == 0) ++rows;
    if (rows != 1) state.SkipWithError(mysql_stmt_error(stmt));
    mysql_stmt_close(stmt);
  }
  mysql_close(db);
}
BENCHMARK(BM_ConnectorCPrepared)->Unit(benchmark::kMicrosecond);

// The text protocol: one round trip, what the mariadb client uses.
void BM_ConnectorCText(benchmark::State& state) {
  MYSQL* db = raw_connect();
  const std::string sql = "SELECT id, name FROM bench_people WHERE id = 1";
  for (auto _ : state) {
    mysql_real_query(db, sql.data(), sql.size());
    MYSQL_RES* result = mysql_store_result(db);
    if (!result || mysql_num_rows(result) != 1) state.SkipWithError(mysql_error(db));
    mysql_free_result(result);
  }
  mysql_close(db);
}
BENCHMARK(BM_ConnectorCText)->Unit(benchmark::kMicrosecond);

// The mariadb client reading the same statement 20,000 times from its stdin, one process
// (its start-up spread over the loop): us_per_query is the figure.
void BM_MariadbClientLoop(benchmark::State& state) {
  const auto& s = server();
  constexpr int kStatements = 20000;
  ::setenv("MYSQL_PWD", s.password.c_str(), 1);  // not in the command line
  const std::string command = "mariadb --no-defaults --batch --skip-column-names -h " + s.host + " -P " +
                              std::to_string(s.port) + " -u " + s.user + " " + s.database + " > /dev/null";
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    FILE* client = popen(command.c_str(), "w");
    for (int i = 0; i < kStatements; ++i) std::fputs("SELECT id, name FROM bench_people WHERE id = 1;\n", client);
    if (pclose(client) != 0) state.SkipWithError("mariadb failed");
    state.counters["us_per_query"] =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kStatements;
  }
  ::unsetenv("MYSQL_PWD");
}
BENCHMARK(BM_MariadbClientLoop)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
