// One-row query over loopback on PostgreSQL: through the db API (api/db_postgres), through
// raw libpq (PQexecParams, blocking), and psql running a file of the same statement. The gap
// between the first two is the host's own cost per call. `make bench` runs it.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "api/db_postgres.hpp"
#include "unit/support/db_server.hpp"

namespace {

using namespace cronhost;

constexpr const char* kQuery = "SELECT 1 AS one, 'x' AS two";

const test::DbServerInfo& server() { return test::DbServer::shared(test::DbKind::postgres).info(); }

config::DatabaseSettings settings() {
  config::DatabaseSettings s;
  s.engine = config::DbEngine::kPostgresql;
  s.url = server().url;
  s.password = server().password;
  return s;
}

void BM_Postgres_DbApi_OneRow(benchmark::State& state) {
  const auto s = settings();
  api::EffectLog effects;
  api::DbRunScope scope{&effects};
  scope.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);  // as a run has: a prelude per statement
  auto conn = api::open_postgres("app", s, scope, "cronhost/bench");
  if (!conn) throw std::runtime_error(conn.message());
  for (auto _ : state) {
    auto rows = conn.value()->query("conn:query", "SELECT ? AS one, 'x' AS two", {int64_t{1}});
    if (!rows) throw std::runtime_error(rows.message());
    benchmark::DoNotOptimize(rows);
  }
}

void BM_Postgres_Libpq_OneRow(benchmark::State& state) {
  const std::string info = server().url;
  const char* keys[] = {"dbname", "password", nullptr};
  const char* values[] = {info.c_str(), server().password.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  const char* param = "1";
  const Oid type = 20;
  for (auto _ : state) {
    PGresult* r = PQexecParams(conn, "SELECT $1 AS one, 'x' AS two", 1, &type, &param, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) throw std::runtime_error(PQresultErrorMessage(r));
    benchmark::DoNotOptimize(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(conn);
}

// psql reading 2,000 statements from a file: one process, one connection, one round trip each
// (divide the time by 2,000 for one statement).
void BM_Postgres_Psql_OneRow(benchmark::State& state) {
  constexpr int kStatements = 2000;
  const std::string file = "/tmp/cronhost-db-bench-" + std::to_string(::getpid()) + ".sql";
  {
    std::ofstream out(file);
    for (int i = 0; i < kStatements; ++i) out << kQuery << ";\n";
  }
  ::setenv("PGPASSWORD", server().password.c_str(), 1);
  const std::string command = "/usr/bin/psql -X -q -A -t -v ON_ERROR_STOP=1 -h " + server().host + " -p " +
                              std::to_string(server().port) + " -U " + server().user + " -d " + server().database +
                              " -f " + file + " > /dev/null";
  for (auto _ : state)
    if (std::system(command.c_str()) != 0) throw std::runtime_error("psql failed");
  ::unsetenv("PGPASSWORD");
  std::remove(file.c_str());
  state.SetItemsProcessed(state.iterations() * kStatements);  // items/s: statements per second
}

}  // namespace

BENCHMARK(BM_Postgres_DbApi_OneRow)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Postgres_Libpq_OneRow)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Postgres_Psql_OneRow)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_MAIN();
