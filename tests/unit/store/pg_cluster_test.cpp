// Several daemons on one PostgreSQL state (issue 14, step 4), as PgStores in one process with
// short leases: one run per slot whoever claims it, leases renewed while a host lives, expired
// ones reaped by another host with a retry, a late finish refused with its kv writes and
// counters, the host told to stop runs it can no longer renew, and a reaper that waits a lease
// after the server restarts.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "../support/db_server.hpp"
#include "../support/pg_database.hpp"
#include "store/pg_store.hpp"

using namespace cronhost;
using namespace cronhost::store;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

PgStore& pg(std::unique_ptr<Store>& store) { return dynamic_cast<PgStore&>(*store); }

std::unique_ptr<Store> open_host(const config::DatabaseSettings& settings, milliseconds lease) {
  return open_pg_store(settings, OpenMode::kDaemon, lease).value();
}

NewRun slot(const std::string& job, int64_t at) {
  NewRun run;
  run.job = job;
  run.scheduled_for = at;
  run.started_at = at;
  return run;
}

// Waits (polling) until `done` or `limit` passed; returns how long it took.
milliseconds wait_for(const std::function<bool()>& done, milliseconds limit) {
  const auto start = Clock::now();
  while (!done() && Clock::now() - start < limit) std::this_thread::sleep_for(milliseconds(25));
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

std::string status_of(const config::DatabaseSettings& settings, int64_t id) {
  return test::pg_query(settings, "SELECT status FROM runs WHERE id = " + std::to_string(id));
}

}  // namespace

TEST_CASE("PostgreSQL cluster: three hosts claiming the same slots get exactly one run per slot", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  std::vector<std::unique_ptr<Store>> hosts;
  for (int i = 0; i < 3; ++i) hosts.push_back(open_host(settings, milliseconds(1000)));
  constexpr int kSlots = 300;
  std::mutex mutex;
  std::map<int64_t, int> won_by_id;
  int won = 0, failed = 0;
  std::vector<std::thread> threads;
  for (int h = 0; h < 3; ++h)
    threads.emplace_back([&, h] {
      // Each host walks the slots from another starting point, in batches of 20.
      for (int batch = 0; batch < kSlots / 20; ++batch) {
        std::vector<NewRun> runs;
        for (int i = 0; i < 20; ++i) runs.push_back(slot("every", 1000 * (((batch + 5 * h) % (kSlots / 20)) * 20 + i)));
        auto ids = hosts[h]->claim_batch(runs);
        std::lock_guard lock(mutex);
        if (!ids) {
          ++failed;
          continue;
        }
        for (const auto& id : ids.value())
          if (id.claimed()) ++won, ++won_by_id[id.id];
      }
    });
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  CHECK(won == kSlots);
  CHECK(won_by_id.size() == static_cast<size_t>(kSlots));
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs") == std::to_string(kSlots));
  CHECK(test::pg_query(settings, "SELECT count(*) FROM (SELECT scheduled_for FROM runs GROUP BY scheduled_for "
                                 "HAVING count(*) > 1) t") == "0");
  // Every run is owned by the host that claimed it, with fence 1 and a lease from now().
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs WHERE owner IS NULL OR fence <> 1 OR lease_until IS NULL "
                                 "OR host IS NULL") == "0");
}

TEST_CASE("PostgreSQL cluster: a live host's leases are renewed and nobody reaps its runs", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings, milliseconds(1000));
  auto b = open_host(settings, milliseconds(1000));
  const int64_t id = *a->claim(slot("long", 1000)).value();
  a->mark_started(id, 1100, 100);
  a->flush();
  std::this_thread::sleep_for(milliseconds(3000));  // three leases
  CHECK(status_of(settings, id) == "running");
  CHECK(test::pg_query(settings, "SELECT lease_until > now() FROM runs WHERE id = " + std::to_string(id)) == "t");
  CHECK(pg(b).runs_reaped() == 0);
  CHECK(a->take_lost_runs().empty());
}

TEST_CASE("PostgreSQL cluster: the runs of a host that stopped renewing are reaped by another with a retry", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings, milliseconds(1000));
  auto b = open_host(settings, milliseconds(1000));
  const int64_t running = *a->claim(slot("long", 1000)).value();
  const int64_t queued = *a->claim(slot("long", 2000)).value();
  a->mark_started(running, 1100, 100);
  a->flush();
  std::this_thread::sleep_for(milliseconds(1100));  // b's reaper is ready (its connection is a lease old)
  const std::string a_name = pg(a).host_name();
  const auto stopped = Clock::now();
  pg(a).stop_renewing();
  // The host itself is told to stop them before its lease can run out.
  std::vector<int64_t> lost;
  wait_for([&] {
    auto more = a->take_lost_runs();
    lost.insert(lost.end(), more.begin(), more.end());
    return lost.size() == 2;
  }, milliseconds(1500));
  CHECK(lost.size() == 2);
  CHECK(a->take_lost_runs().empty());  // each once
  const auto took = wait_for([&] {
    return status_of(settings, running) == "interrupted" && status_of(settings, queued) == "interrupted";
  }, milliseconds(5000));
  INFO("reaped after " << took.count() << " ms");
  CHECK(took < milliseconds(1000 + 1500));  // the lease, plus one reaper round and slack
  CHECK(pg(b).runs_reaped() == 2);
  auto run = b->run(running).value();
  CHECK(run.error == "the host " + a_name + " lost its lease during the run");
  CHECK(run.retry_at.has_value());
  CHECK(run.finished_at.has_value());
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs WHERE owner IS NULL AND fence = 2 AND lease_until IS NULL") ==
        "2");
  CHECK(b->pending_retries().size() == 2);
  (void)stopped;
}

TEST_CASE("PostgreSQL cluster: a finish from a host whose run was reaped is refused with its kv writes and counters", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings, milliseconds(1000));
  auto b = open_host(settings, milliseconds(1000));
  const int64_t id = *a->claim(slot("late", 1000)).value();
  a->mark_started(id, 1100, 100);
  a->flush();
  pg(a).stop_renewing();  // paused: no renewals
  wait_for([&] { return status_of(settings, id) == "interrupted"; }, milliseconds(5000));
  REQUIRE(status_of(settings, id) == "interrupted");

  RunOutcome done;
  done.status = RunStatus::kSucceeded;
  done.finished_at = 9000;
  done.duration_ms = 10;
  done.output = "late\n";
  done.kv_writes = {KvWrite{"cursor", std::string("42")}};
  a->finish(id, "late", done);
  a->flush();
  CHECK(pg(a).late_completions_refused() == 1);
  CHECK(status_of(settings, id) == "interrupted");
  CHECK_FALSE(b->kv_get("late", "cursor").value().has_value());
  auto state = b->job_state("late");
  CHECK((!state || state->runs == 0));

  // The same finish by the owner lands, kv and counters with it.
  const int64_t mine = *b->claim(slot("late", 2000)).value();
  b->finish(mine, "late", done);
  b->flush();
  CHECK(status_of(settings, mine) == "succeeded");
  CHECK(b->kv_get("late", "cursor").value() == std::optional<std::string>("42"));
  CHECK(b->job_state("late")->runs == 1);
  CHECK(pg(b).late_completions_refused() == 0);
}

TEST_CASE("PostgreSQL cluster: a run taken away from a host that still renews is reported lost", "[store][db][cluster]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings, milliseconds(1000));
  const int64_t id = *a->claim(slot("taken", 1000)).value();
  a->flush();
  test::pg_query(settings, "UPDATE runs SET owner = NULL, fence = fence + 1 WHERE id = " + std::to_string(id));
  std::vector<int64_t> lost;
  wait_for([&] {
    lost = a->take_lost_runs();
    return !lost.empty();
  }, milliseconds(2000));
  CHECK(lost == std::vector<int64_t>{id});
}

TEST_CASE("PostgreSQL cluster: the reaper stays idle for one lease after the server restarts", "[store][db][cluster]") {
  test::DbServer server(test::DbKind::postgres);
  auto settings = test::fresh_pg_database_on(server);
  const milliseconds lease(2000);
  auto a = open_host(settings, lease);
  auto b = open_host(settings, lease);
  const int64_t id = *a->claim(slot("through", 1000)).value();
  a->mark_started(id, 1100, 100);
  a->flush();
  pg(a).stop_renewing();  // its lease expires while the server is down
  server.kill();
  std::this_thread::sleep_for(lease + milliseconds(500));
  server.restart();
  const auto back = Clock::now();
  // b reconnects within its backoff (at most 1 s); without the wait it would reap at once.
  std::this_thread::sleep_for(lease - milliseconds(300));
  CHECK(test::pg_query(settings, "SELECT status FROM runs WHERE id = " + std::to_string(id)) == "running");
  CHECK(pg(b).runs_reaped() == 0);
  const auto took = wait_for([&] { return status_of(settings, id) == "interrupted"; }, milliseconds(8000));
  INFO("reaped " << std::chrono::duration_cast<milliseconds>(Clock::now() - back).count() << " ms after the restart");
  CHECK(status_of(settings, id) == "interrupted");
  CHECK(pg(b).runs_reaped() == 1);
  (void)took;
}
