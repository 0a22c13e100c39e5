// What hosts sharing a PostgreSQL state keep alike and show of each other (issue 14,
// observability): the catalog version every admin write raises, the overrides read back, the
// job definitions each daemon publishes and the jobs whose definitions differ between live
// hosts, and the cluster's figures /health and /metrics read (with their one-second cache).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "../support/pg_database.hpp"
#include "../support/temp_dir.hpp"
#include "store/pg_cluster_status.hpp"
#include "store/pg_store.hpp"

using namespace cronhost;
using namespace cronhost::store;
using std::chrono::milliseconds;

namespace {

PgStore& pg(std::unique_ptr<Store>& store) { return dynamic_cast<PgStore&>(*store); }

std::unique_ptr<Store> open_host(const config::DatabaseSettings& settings, milliseconds lease = milliseconds(1000)) {
  return open_pg_store(settings, OpenMode::kDaemon, lease).value();
}

NewRun slot(const std::string& job, int64_t at, RunStatus status = RunStatus::kQueued) {
  NewRun run;
  run.job = job;
  run.scheduled_for = at;
  run.started_at = at;
  run.status = status;
  return run;
}

}  // namespace

TEST_CASE("PostgreSQL catalog: each admin write raises the version in its transaction", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings);
  auto b = open_pg_store(settings, OpenMode::kReader).value();  // another host's reader
  CHECK(b->catalog_version().value() == 0);
  REQUIRE(a->set_enabled_override("backup", false));
  CHECK(b->catalog_version().value() == 1);
  REQUIRE(a->set_schedule_override("backup", R"({"cron":"0 3 * * *"})"));
  REQUIRE(a->save_registered_job({"svc", R"({"name":"svc"})", "alice", 1000, 1000}));
  CHECK(b->catalog_version().value() == 3);
  auto overrides = b->job_overrides().value();
  REQUIRE(overrides.size() == 1);
  CHECK(overrides[0].job == "backup");
  CHECK(overrides[0].enabled_override == std::optional<bool>(false));
  CHECK(overrides[0].schedule_override == R"({"cron":"0 3 * * *"})");
  REQUIRE(a->delete_registered_job("svc"));
  CHECK(b->catalog_version().value() == 4);
  // A run's counters are not a change to the catalog.
  a->finish(*a->claim(slot("backup", 1000, RunStatus::kRunning)).value(), "backup", RunOutcome{});
  a->flush();
  CHECK(b->catalog_version().value() == 4);
}

TEST_CASE("SQLite catalog: no one shares it, so its version never moves", "[store]") {
  test::TempDir dir;
  auto store = Store::open(dir.path() / "state.db").value();
  REQUIRE(store->set_enabled_override("backup", false));
  CHECK(store->catalog_version().value() == 0);
  CHECK(store->job_overrides().value().size() == 1);  // read at start, never again
  CHECK(store->publish_definitions({{"backup", "0123"}}));
  CHECK(store->definition_drift().value().empty());
}

TEST_CASE("PostgreSQL definitions: jobs whose hashes differ between live hosts, each host named", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings);
  auto b = open_host(settings);
  REQUIRE(a->publish_definitions({{"backup", "aaaa"}, {"report", "1111"}}));
  REQUIRE(b->publish_definitions({{"backup", "aaaa"}, {"report", "1111"}, {"only-b", "7777"}}));
  CHECK(a->definition_drift().value().empty());  // a job only one host has is not a difference of definitions

  REQUIRE(b->publish_definitions({{"backup", "bbbb"}, {"report", "1111"}}));
  auto drift = a->definition_drift().value();
  REQUIRE(drift.size() == 1);
  CHECK(drift[0].job == "backup");
  REQUIRE(drift[0].hosts.size() == 2);
  const std::pair<std::string, std::string> from_a{pg(a).host_name(), "aaaa"}, from_b{pg(b).host_name(), "bbbb"};
  CHECK(((drift[0].hosts[0] == from_a && drift[0].hosts[1] == from_b) ||
         (drift[0].hosts[0] == from_b && drift[0].hosts[1] == from_a)));
  CHECK(test::pg_query(settings, "SELECT count(*) FROM job_definitions WHERE job = 'only-b'") == "0");  // replaced

  // A host that stopped renewing (dead, paused) stops counting after a lease.
  pg(b).stop_renewing();
  std::this_thread::sleep_for(milliseconds(1300));
  CHECK(a->definition_drift().value().empty());
  // A host that stops cleanly takes its definitions with it.
  b.reset();
  CHECK(test::pg_query(settings, "SELECT count(*) FROM job_definitions") == "2");
}

TEST_CASE("PostgreSQL cluster status: hosts, leases, the queue and this host's counters", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings);
  auto b = open_host(settings);
  auto reader = open_pg_store(settings, OpenMode::kReader).value();
  PgClusterStatus status(pg(a), pg(reader));

  const int64_t queued = *a->claim(slot("every", 1000)).value();
  const int64_t running = *a->claim(slot("every", 2000, RunStatus::kRunning)).value();
  REQUIRE(*b->claim(slot("other", 1000)).value() > 0);
  CHECK_FALSE(b->claim(slot("every", 1000)).value().has_value());  // a had it
  CHECK(pg(b).claim_conflicts() == 1);
  CHECK(pg(a).claim_conflicts() == 0);

  const ClusterStatus now = status.read();
  REQUIRE(now.counts);
  CHECK(now.host == pg(a).host_name());
  CHECK(now.counts->hosts_alive == 2);
  CHECK(now.counts->leases_held == 3);
  CHECK(now.counts->leases_held_here == 2);
  CHECK(now.counts->queue_depth == 2);  // a's and b's queued claims
  CHECK(now.counts->queue_oldest_age_ms > 0);  // queued at 1000 ms after the epoch: very old
  CHECK(now.claim_conflicts == 0);
  CHECK(now.runs_reaped == 0);

  // Read at most once a second: a second look within it is the first one's answer.
  a->finish(running, "every", RunOutcome{});
  a->finish(queued, "every", RunOutcome{});
  a->flush();
  CHECK(status.read().counts->leases_held_here == 2);
  std::this_thread::sleep_for(PgClusterStatus::kRefresh);
  const ClusterStatus later = status.read();
  CHECK(later.counts->leases_held_here == 0);
  CHECK(later.counts->leases_held == 1);
  CHECK(later.counts->queue_depth == 1);
  // Ready once this host's connection and the server have been up a lease (1 s here).
  CHECK(later.reaper_ready);
}
