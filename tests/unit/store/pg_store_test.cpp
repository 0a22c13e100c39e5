// The PostgreSQL state store's own behaviour (the shared contract is in state_store_test.cpp
// and approvals_test.cpp): migrations under the advisory lock, several hosts side by side, schema versions
// for readers and clients, posted writes kept across a server restart, and waited calls that
// fail within seconds while the server is away or stopped.
#include <signal.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support/db_server.hpp"
#include "../support/pg_database.hpp"
#include "store/pg_migrations.hpp"
#include "store/pg_store.hpp"

using namespace cronhost;
using namespace cronhost::store;
using Clock = std::chrono::steady_clock;

namespace {

NewRun slot(const std::string& job, int64_t at) {
  NewRun run;
  run.job = job;
  run.scheduled_for = at;
  run.started_at = at + 3;
  run.lateness_ms = 3;
  return run;
}

RunOutcome succeeded(int64_t at, std::string output, std::vector<KvWrite> kv = {}) {
  RunOutcome o;
  o.status = RunStatus::kSucceeded;
  o.finished_at = at;
  o.duration_ms = 10;
  o.output = std::move(output);
  o.kv_writes = std::move(kv);
  return o;
}

const std::string kLatest = std::to_string(pg_migrations().size());

}  // namespace

TEST_CASE("PostgreSQL state: a new database is migrated to the latest version", "[store][db]") {
  auto settings = test::fresh_pg_database(false);
  CHECK(test::pg_query(settings, "SELECT to_regclass('runs') IS NULL") == "t");
  { auto store = open_pg_store(settings, OpenMode::kDaemon).value(); }
  CHECK(test::pg_query(settings, "SELECT version FROM cronhost_schema") == kLatest);
  CHECK(test::pg_query(settings, "SELECT count(*) FROM cronhost_schema") == "1");
  for (const char* table : {"job_state", "runs", "kv", "approvals", "events", "outbox", "registered_jobs", "audit_log"}) {
    INFO(table);
    CHECK(test::pg_query(settings, std::string("SELECT to_regclass('") + table + "') IS NOT NULL") == "t");
  }
  { auto again = open_pg_store(settings, OpenMode::kDaemon).value(); }  // nothing left to apply
  CHECK(test::pg_query(settings, "SELECT version FROM cronhost_schema") == kLatest);
}

TEST_CASE("PostgreSQL state: three hosts starting at once on an empty database migrate it once", "[store][db]") {
  auto settings = test::fresh_pg_database(false);
  std::vector<std::string> failures;
  std::vector<std::unique_ptr<Store>> opened;
  std::mutex mutex;
  std::vector<std::thread> hosts;
  for (int i = 0; i < 3; ++i)
    hosts.emplace_back([&] {
      auto store = open_pg_store(settings, OpenMode::kDaemon);
      std::lock_guard lock(mutex);
      if (store) opened.push_back(std::move(store).value());
      else failures.push_back(store.message());
    });
  for (auto& host : hosts) host.join();
  // A second application of the migration would fail on "relation already exists": all three
  // start, the migration lock lets one apply it.
  CHECK(failures.empty());
  CHECK(opened.size() == 3);
  CHECK(test::pg_query(settings, "SELECT version FROM cronhost_schema") == kLatest);
}

TEST_CASE("PostgreSQL state: a database from a newer cronhost is refused, naming both versions", "[store][db]") {
  auto settings = test::fresh_pg_database();
  test::pg_query(settings, "UPDATE cronhost_schema SET version = 99");
  auto daemon = open_pg_store(settings, OpenMode::kDaemon);
  REQUIRE_FALSE(daemon);
  CHECK(daemon.message() == "state database " + settings.url +
                                ": migrating the state database: the state database is from a newer cronhost "
                                "(schema version 99, this build knows " + kLatest + ")");
  CHECK(test::pg_query(settings, "SELECT version FROM cronhost_schema") == "99");  // rolled back, nothing changed
  auto client = open_pg_store(settings, OpenMode::kClient);
  REQUIRE_FALSE(client);
  CHECK(client.message() == "the state database " + settings.url + " is at schema version 99, this cronhost knows only " +
                                kLatest + ": use the newer cronhost");
}

TEST_CASE("PostgreSQL state: readers and clients neither migrate nor take the host lock", "[store][db]") {
  auto empty = test::fresh_pg_database(false);
  for (auto mode : {OpenMode::kReader, OpenMode::kClient}) {
    auto store = open_pg_store(empty, mode);
    REQUIRE_FALSE(store);
    CHECK(store.message() == "the state database " + empty.url + " is at schema version 0, this cronhost needs " +
                                 kLatest + ": start the host once (cronhost run) to upgrade it");
  }
  CHECK(test::pg_query(empty, "SELECT to_regclass('cronhost_schema') IS NULL") == "t");

  auto settings = test::fresh_pg_database();
  auto daemon = open_pg_store(settings, OpenMode::kDaemon).value();
  CHECK(daemon->kv_put("j", "k", "1", 5));
  auto reader = open_pg_store(settings, OpenMode::kReader).value();
  auto client = open_pg_store(settings, OpenMode::kClient).value();
  CHECK(*reader->kv_get("j", "k").value() == "1");
  CHECK(client->kv_put("j", "k", "2", 6));
  CHECK(*reader->kv_get("j", "k").value() == "2");
  auto refused = reader->kv_put("j", "k", "3", 7);
  REQUIRE_FALSE(refused);
  CHECK(refused.message().find("read-only transaction") != std::string::npos);
  CHECK(open_pg_store(settings, OpenMode::kScratch).message() == "dry run against PostgreSQL state: not yet");
}

TEST_CASE("PostgreSQL state: a second host on the same database starts beside the first, each with a hosts row", "[store][db]") {
  auto settings = test::fresh_pg_database();
  auto first = open_pg_store(settings, OpenMode::kDaemon);
  REQUIRE(first);
  auto second = open_pg_store(settings, OpenMode::kDaemon);
  REQUIRE(second);
  CHECK(test::pg_query(settings, "SELECT count(*) FROM hosts WHERE stopped_at IS NULL") == "2");
  CHECK(test::pg_query(settings, "SELECT count(DISTINCT id) FROM hosts") == "2");
  first.value().reset();  // a clean close marks the host stopped
  CHECK(test::pg_query(settings, "SELECT count(*) FROM hosts WHERE stopped_at IS NULL") == "1");
}

TEST_CASE("PostgreSQL state: a wrong password or a closed port is refused with the url, never the password", "[store][db]") {
  auto settings = test::fresh_pg_database();
  settings.password = "wrong-secret-4711";
  auto store = open_pg_store(settings, OpenMode::kDaemon);
  REQUIRE_FALSE(store);
  CHECK(store.message().find("cannot connect to the state database " + settings.url + ": ") == 0);
  CHECK(store.message().find("wrong-secret-4711") == std::string::npos);
}

TEST_CASE("PostgreSQL state: a posted write that fails on its own is dropped, the rest of its batch commits", "[store][db]") {
  auto settings = test::fresh_pg_database();
  // A statement error aborts a whole PostgreSQL transaction (SQLite fails only the statement).
  test::pg_query(settings, "ALTER TABLE job_state ADD CONSTRAINT test_refuses CHECK (job <> 'refused')");
  auto store = open_pg_store(settings, OpenMode::kDaemon).value();
  store->record_fire("j", 1000, 2000);
  store->record_fire("refused", 1000, 2000);
  store->record_fire("j", 2000, 3000);
  store->flush();
  CHECK(store->job_state("j")->last_slot == 2000);
  CHECK_FALSE(store->job_state("refused"));
  CHECK(store->write_health().retained == 0);
  CHECK(store->write_health().failed_commits == 0);
  CHECK(store->kv_put("refused", "k", "1", 1));  // the connection goes on
}

TEST_CASE("PostgreSQL state: a run's output that is not UTF-8 is stored with U+FFFD, not dropped", "[store][db]") {
  auto settings = test::fresh_pg_database();
  auto store = open_pg_store(settings, OpenMode::kDaemon).value();
  const int64_t id = *store->claim(slot("j", 1000)).value();
  auto outcome = succeeded(1500, std::string("bad byte \xff, a NUL ") + '\0' + " and on");
  outcome.error = "err \xfe";
  store->finish(id, "j", outcome);
  store->flush();
  auto run = store->run(id);
  REQUIRE(run);
  CHECK(run->status == RunStatus::kSucceeded);
  CHECK(run->output == "bad byte \xef\xbf\xbd, a NUL \xef\xbf\xbd and on");
  CHECK(run->error == "err \xef\xbf\xbd");
  CHECK(store->set_retry(id, 9000, "note \xff"));
  CHECK(store->run_add_note(id, "more \xff"));
  CHECK(store->run(id)->notes == "note \xef\xbf\xbd\nmore \xef\xbf\xbd");
}

TEST_CASE("PostgreSQL state: a host whose connection was ended reconnects and keeps its writes", "[store][db]") {
  auto settings = test::fresh_pg_database();
  auto first = open_pg_store(settings, OpenMode::kDaemon).value();
  first->record_fire("j", 1000, 2000);
  first->flush();
  // Its connection ends (a failover, a network cut); another host starts meanwhile.
  CHECK(test::pg_query(settings, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                 "application_name = 'cronhost/daemon' AND datname = current_database()") == "1");
  auto second = open_pg_store(settings, OpenMode::kDaemon);
  REQUIRE(second);
  first->record_fire("j", 2000, 3000);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  do {
    first->flush();
    if (first->write_health().retained == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < deadline);
  CHECK(first->write_health().retained == 0);
  CHECK(second.value()->job_state("j")->last_slot == 2000);
}

TEST_CASE("PostgreSQL state: posted writes survive a server restart and are committed after it", "[store][db]") {
  test::DbServer server(test::DbKind::postgres);
  auto settings = test::fresh_pg_database_on(server);
  auto store = open_pg_store(settings, OpenMode::kDaemon).value();
  const int64_t id = *store->claim(slot("backup", 1000)).value();
  server.kill();

  store->finish(id, "backup", succeeded(1500, "done\n", {KvWrite{"seen", std::string(R"("yes")")}}));
  store->record_fire("backup", 2000, 3000);
  store->flush();
  auto failing = store->write_health();
  CHECK(failing.retained == 2);
  CHECK(failing.failed_commits >= 1);
  CHECK(failing.last_error.find(settings.url) != std::string::npos);
  CHECK(failing.lost == 0);

  // A waited call fails fast while the server is away, it does not hang.
  const auto asked = Clock::now();
  auto read = store->kv_get("backup", "seen");
  CHECK_FALSE(read);
  CHECK(Clock::now() - asked < std::chrono::seconds(3));
  auto claim = store->claim(slot("backup", 2000));
  REQUIRE_FALSE(claim);
  CHECK(claim.message().find("claiming slots in the state file failed: ") == 0);

  server.restart();
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (store->write_health().retained > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    store->flush();
  }
  CHECK(store->write_health().retained == 0);
  CHECK(store->write_health().lost == 0);
  auto run = store->run(id);
  REQUIRE(run);
  CHECK(run->status == RunStatus::kSucceeded);
  CHECK(run->output == "done\n");
  CHECK(*store->kv_get("backup", "seen").value() == R"("yes")");
  auto state = store->job_state("backup");
  REQUIRE(state);
  CHECK(state->runs == 1);
  CHECK(state->last_slot == 2000);
  // The run outlived the restart as this host's: its lease was renewed after the reconnect,
  // and the reaper waited a lease after the server came back.
  CHECK(test::pg_query(settings, "SELECT fence FROM runs WHERE id = " + std::to_string(id)) == "1");
}

TEST_CASE("PostgreSQL state: a waited call while the server is down fails within seconds", "[store][db]") {
  test::DbServer server(test::DbKind::postgres);
  auto settings = test::fresh_pg_database_on(server);
  auto store = open_pg_store(settings, OpenMode::kDaemon).value();
  server.kill();
  for (int i = 0; i < 3; ++i) {  // the first finds the connection lost, the next ones the backoff or a refused connect
    const auto asked = Clock::now();
    auto approvals = store->approvals({});
    REQUIRE_FALSE(approvals);
    CHECK(approvals.message().find("approvals: ") == 0);
    CHECK(Clock::now() - asked < std::chrono::seconds(3));
  }
  CHECK_FALSE(store->check_writable());
}

TEST_CASE("PostgreSQL state: a waited call to a server that stopped answering fails at the client's deadline", "[store][db]") {
  auto settings = test::fresh_pg_database();
  auto store = open_pg_store(settings, OpenMode::kDaemon).value();
  REQUIRE(store->kv_put("j", "k", "1", 1));
  // The backend serving the store is stopped (SIGSTOP): its kernel still acknowledges TCP, so
  // neither keepalives nor tcp_user_timeout notice, and statement_timeout runs in the stopped
  // process. Only the client's own deadline ends the wait.
  const pid_t backend = std::stoi(test::pg_query(
      settings, "SELECT pid FROM pg_stat_activity WHERE application_name = 'cronhost/daemon' AND datname = current_database()"));
  REQUIRE(::kill(backend, SIGSTOP) == 0);
  const auto asked = Clock::now();
  auto read = store->kv_get("j", "k");
  const auto waited = Clock::now() - asked;
  ::kill(backend, SIGCONT);
  REQUIRE_FALSE(read);
  CHECK(read.message().find("no answer from the state database " + settings.url) != std::string::npos);
  CHECK(waited < std::chrono::seconds(14));
  CHECK(*store->kv_get("j", "k").value() == "1");  // a new connection
}
