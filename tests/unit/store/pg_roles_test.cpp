// Roles on one PostgreSQL state (cronhost run --role, issue 14): a scheduler's claims are
// queued runs nobody owns, announced by a NOTIFY in the claim's transaction; executors take
// them each once (FOR UPDATE SKIP LOCKED) as their owner with a fence and a lease, which the
// reaper honours like any other; forbid still holds; each host's role is in hosts.role.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "../support/pg_database.hpp"
#include "api/pg_listener.hpp"
#include "store/pg_store.hpp"

using namespace cronhost;
using namespace cronhost::store;
using std::chrono::milliseconds;

namespace {

PgStore& pg(std::unique_ptr<Store>& store) { return dynamic_cast<PgStore&>(*store); }

std::unique_ptr<Store> open_host(const config::DatabaseSettings& settings, const std::string& role,
                                 milliseconds lease = milliseconds(5000)) {
  auto store = open_pg_store(settings, OpenMode::kDaemon, lease).value();
  REQUIRE(pg(store).set_role(role));
  return store;
}

NewRun queued(const std::string& job, int64_t at) {
  return NewRun{.job = job, .scheduled_for = at, .status = RunStatus::kQueued, .started_at = at};
}

bool wait_until(const std::function<bool()>& done, milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  while (!done() && std::chrono::steady_clock::now() - start < limit) std::this_thread::sleep_for(milliseconds(20));
  return done();
}

}  // namespace

TEST_CASE("PostgreSQL roles: a scheduler queues runs nobody owns and says so, and an executor takes them",
          "[store][db][roles]") {
  auto settings = test::fresh_pg_database();
  std::atomic<int> notified{0};
  api::PgListener listener("test", settings, PgStore::kQueuedChannel, [&notified] { ++notified; });
  auto scheduler = open_host(settings, "scheduler");
  auto executor = open_host(settings, "executor");
  CHECK(test::pg_query(settings, "SELECT role FROM hosts WHERE id = '" + pg(scheduler).host_id() + "'") == "scheduler");
  CHECK(test::pg_query(settings, "SELECT role FROM hosts WHERE id = '" + pg(executor).host_id() + "'") == "executor");
  REQUIRE(wait_until([&] { return notified > 0; }, milliseconds(5000)));  // called once connected
  const int before = notified;

  const auto ids = scheduler->claim_batch({queued("a", 1000), queued("b", 1000)}).value();
  REQUIRE(ids[0].claimed());
  REQUIRE(ids[1].claimed());
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs WHERE owner IS NULL AND fence = 0 AND lease_until IS NULL "
                                 "AND status = 'queued'") == "2");
  CHECK(wait_until([&] { return notified > before; }, milliseconds(2000)));
  CHECK(pg(scheduler).take_lost_runs().empty());  // nothing of its own to renew

  const auto taken = pg(executor).take_queued(10);
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].id == ids[0].id);
  CHECK(taken[0].job == "a");
  CHECK(taken[1].job == "b");
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs WHERE owner = '" + pg(executor).host_id() +
                                     "' AND fence = 1 AND lease_until > now() AND host = '" + pg(executor).host_name() +
                                     "'") == "2");
  CHECK(pg(executor).take_queued(10).empty());  // each once
  // Started and finished as their owner, with the fence of the take.
  executor->mark_started(taken[0].id, 1100, 100);
  executor->finish(taken[0].id, "a", RunOutcome{RunStatus::kSucceeded, 1200, 100, "", "", "", false});
  executor->flush();
  CHECK(test::pg_query(settings, "SELECT status FROM runs WHERE id = " + std::to_string(taken[0].id)) == "succeeded");
  // A host with role all claims as before: owned, not queued for the executors.
  auto all = open_host(settings, "all");
  REQUIRE(all->claim_batch({queued("c", 1000)}).value()[0].claimed());
  CHECK(pg(executor).take_queued(10).empty());
}

TEST_CASE("PostgreSQL roles: two executors taking at once get each queued run once", "[store][db][roles]") {
  auto settings = test::fresh_pg_database();
  auto scheduler = open_host(settings, "scheduler");
  std::vector<std::unique_ptr<Store>> executors;
  executors.push_back(open_host(settings, "executor"));
  executors.push_back(open_host(settings, "executor"));
  constexpr int kRuns = 200;
  std::vector<NewRun> runs;
  for (int i = 0; i < kRuns; ++i) runs.push_back(queued("job" + std::to_string(i % 10), 1000 * (i / 10 + 1)));
  REQUIRE(scheduler->claim_batch(runs).value().size() == kRuns);
  std::mutex mutex;
  std::map<int64_t, int> taken_by;  // run -> executor
  int twice = 0;
  std::vector<std::thread> threads;
  for (int e = 0; e < 2; ++e)
    threads.emplace_back([&, e] {
      for (;;) {
        const auto taken = pg(executors[e]).take_queued(7);
        if (taken.empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& run : taken)
          if (!taken_by.emplace(run.id, e).second) ++twice;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(twice == 0);
  CHECK(taken_by.size() == static_cast<size_t>(kRuns));
  int first = 0;
  for (const auto& [id, e] : taken_by) first += e == 0;
  INFO("executor 0 took " << first);
  CHECK(first > 0);
  CHECK(first < kRuns);
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs WHERE owner IS NULL OR fence <> 1") == "0");
}

TEST_CASE("PostgreSQL roles: forbid holds for queued runs, and a dead executor's run is reaped with a retry",
          "[store][db][roles]") {
  auto settings = test::fresh_pg_database();
  auto scheduler = open_host(settings, "scheduler", milliseconds(1000));
  auto executor = open_host(settings, "executor", milliseconds(1000));
  NewRun first = queued("sync", 1000);
  first.exclusive = true;
  NewRun next = queued("sync", 2000);
  next.exclusive = true;
  REQUIRE(scheduler->claim_batch({first}).value()[0].claimed());
  // Queued for the executors, the job is busy: named after the scheduler until taken.
  auto busy = scheduler->claim_batch({next}).value()[0];
  CHECK(busy.kind == ClaimResult::Kind::kBusyElsewhere);
  CHECK(busy.busy_host == pg(scheduler).host_name());
  const auto taken = pg(executor).take_queued(5);
  REQUIRE(taken.size() == 1);
  busy = scheduler->claim_batch({next}).value()[0];
  CHECK(busy.kind == ClaimResult::Kind::kBusyElsewhere);
  CHECK(busy.busy_host == pg(executor).host_name());
  executor->mark_started(taken[0].id, 1100, 100);
  executor->flush();
  std::this_thread::sleep_for(milliseconds(1100));  // the scheduler's reaper is ready
  pg(executor).stop_renewing();
  CHECK(wait_until([&] {
    return test::pg_query(settings, "SELECT status FROM runs WHERE id = " + std::to_string(taken[0].id)) ==
           "interrupted";
  }, milliseconds(5000)));
  CHECK(scheduler->pending_retries().size() == 1);
  CHECK(scheduler->claim_batch({next}).value()[0].claimed());  // the job is free again
}
