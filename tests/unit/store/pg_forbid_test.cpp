// concurrency: forbid across hosts sharing one PostgreSQL state (issue 14, roles): a run of a
// forbid job is claimed exclusive, and while one is queued or running on any host another
// host's claim of the job is refused as busy elsewhere (naming that host), while a slot that
// already ran still answers already ran, and the job is free again once the run ends or its
// dead host is reaped.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support/pg_database.hpp"
#include "store/pg_store.hpp"

using namespace cronhost;
using namespace cronhost::store;
using std::chrono::milliseconds;
using Kind = ClaimResult::Kind;

namespace {

PgStore& pg(std::unique_ptr<Store>& store) { return dynamic_cast<PgStore&>(*store); }

std::unique_ptr<Store> open_host(const config::DatabaseSettings& settings, milliseconds lease = milliseconds(5000)) {
  return open_pg_store(settings, OpenMode::kDaemon, lease).value();
}

NewRun exclusive(const std::string& job, int64_t at, Trigger trigger = Trigger::kSchedule) {
  NewRun run{.job = job, .trigger = trigger, .scheduled_for = at, .status = RunStatus::kQueued, .started_at = at};
  run.exclusive = true;
  return run;
}

ClaimResult claim_one(std::unique_ptr<Store>& host, const NewRun& run) { return host->claim_batch({run}).value()[0]; }

void succeed(std::unique_ptr<Store>& host, int64_t id, const std::string& job) {
  host->finish(id, job, RunOutcome{RunStatus::kSucceeded, 9000, 1, "", "", "", false});
  host->flush();
}

}  // namespace

TEST_CASE("PostgreSQL forbid: a second host's claim of a busy job is busy elsewhere, naming the host",
          "[store][db][forbid]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings);
  auto b = open_host(settings);
  const ClaimResult first = claim_one(a, exclusive("sync", 1000));
  REQUIRE(first.claimed());

  const ClaimResult next = claim_one(b, exclusive("sync", 2000));
  CHECK(next.kind == Kind::kBusyElsewhere);
  CHECK(next.busy_host == pg(a).host_name());
  // The slot index decides before the exclusive one: that slot already ran.
  CHECK(claim_one(b, exclusive("sync", 1000)).kind == Kind::kAlreadyRan);
  // A manual run and a retry are refused alike; a run not exclusive (concurrency: allow) and a
  // skipped row are not concerned.
  CHECK(claim_one(b, exclusive("sync", 1500, Trigger::kManual)).kind == Kind::kBusyElsewhere);
  CHECK(claim_one(b, exclusive("sync", 3000, Trigger::kRetry)).kind == Kind::kBusyElsewhere);
  NewRun allowed = exclusive("sync", 4000);
  allowed.exclusive = false;
  CHECK(claim_one(b, allowed).claimed());
  NewRun skipped = exclusive("sync", 5000);
  skipped.status = RunStatus::kSkipped;
  skipped.error = "the previous run is still going (concurrency: forbid) on host " + pg(a).host_name();
  CHECK(claim_one(b, skipped).claimed());
  // In one batch, only the busy job is refused.
  const auto batch = b->claim_batch({exclusive("sync", 6000), exclusive("other", 6000)}).value();
  CHECK(batch[0].kind == Kind::kBusyElsewhere);
  CHECK(batch[1].claimed());
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs WHERE job = 'sync' AND status IN ('queued', 'running')") ==
        "2");  // the first run and the one not exclusive

  // Started, it stays busy; ended, the job is free for any host.
  a->mark_started(first.id, 1100, 100);
  a->flush();
  CHECK(claim_one(b, exclusive("sync", 7000)).kind == Kind::kBusyElsewhere);
  succeed(a, first.id, "sync");
  CHECK(claim_one(b, exclusive("sync", 7000)).claimed());
}

TEST_CASE("PostgreSQL forbid: three hosts racing for one job get one run at a time", "[store][db][forbid]") {
  auto settings = test::fresh_pg_database();
  std::vector<std::unique_ptr<Store>> hosts;
  for (int i = 0; i < 3; ++i) hosts.push_back(open_host(settings));
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    // Each host claims its own slot of the job at once: only the exclusive index separates them.
    std::vector<ClaimResult> results(3);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int h = 0; h < 3; ++h)
      threads.emplace_back([&, h] {
        ++ready;
        while (ready < 3) std::this_thread::yield();
        results[h] = claim_one(hosts[h], exclusive("sync", round * 10 + h));
      });
    for (auto& t : threads) t.join();
    int won = -1, busy = 0;
    for (int h = 0; h < 3; ++h) {
      if (results[h].claimed()) {
        INFO("round " << round);
        CHECK(won == -1);
        won = h;
      } else if (results[h].kind == Kind::kBusyElsewhere) {
        ++busy;
      }
    }
    INFO("round " << round);
    REQUIRE(won >= 0);
    CHECK(busy == 2);
    for (int h = 0; h < 3; ++h)
      if (h != won) CHECK(results[h].busy_host == pg(hosts[won]).host_name());
    succeed(hosts[won], results[won].id, "sync");
  }
  CHECK(test::pg_query(settings, "SELECT count(*) FROM runs") == std::to_string(kRounds));
}

TEST_CASE("PostgreSQL forbid: a dead host's run frees the job once it is reaped", "[store][db][forbid]") {
  auto settings = test::fresh_pg_database();
  auto a = open_host(settings, milliseconds(1000));
  auto b = open_host(settings, milliseconds(1000));
  const ClaimResult first = claim_one(a, exclusive("sync", 1000));
  REQUIRE(first.claimed());
  a->mark_started(first.id, 1100, 100);
  a->flush();
  std::this_thread::sleep_for(milliseconds(1100));  // b's reaper is ready
  pg(a).stop_renewing();
  CHECK(claim_one(b, exclusive("sync", 2000)).kind == Kind::kBusyElsewhere);
  const auto start = std::chrono::steady_clock::now();
  bool freed = false;
  while (!freed && std::chrono::steady_clock::now() - start < milliseconds(5000)) {
    std::this_thread::sleep_for(milliseconds(100));
    freed = claim_one(b, exclusive("sync", 2000)).claimed();
  }
  CHECK(freed);
  CHECK(test::pg_query(settings, "SELECT status FROM runs WHERE id = " + std::to_string(first.id)) == "interrupted");
}
