// The event pump on a real state store (each backend): an event is delivered when its runs are
// recorded, so a claim that fails leaves it to be fired again, and a job runs once per event
// however often it is fired. The failure is real: a trigger in the store that refuses event
// runs, as a full disk or a lost server would.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "../store/backends.hpp"
#include "../support/fake_clock.hpp"
#include "config/job_loader.hpp"
#include "dispatch/event_pump.hpp"
#include "dispatch/scheduler.hpp"

using namespace cronhost;
using store::ApprovalStatus;

namespace {

constexpr int64_t kT0 = 1'796'083'200'000;

std::shared_ptr<const config::JobSpec> on_approved(const std::string& name) {
  config::Diagnostics diagnostics;
  auto spec = config::load_job_text(name + ".yaml",
                                    "run: {http: {url: \"http://127.0.0.1:9/\"}}\n"
                                    "schedule: {on: approval.approved}\n"
                                    "allow: {approvals: ['*']}\n",
                                    "/tmp", {}, diagnostics);
  REQUIRE(spec);
  return std::make_shared<const config::JobSpec>(std::move(*spec));
}

template <typename F>
bool eventually(F done, std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

const char* kRefuseEventRunsSqlite =
    "CREATE TRIGGER refuse_event_runs BEFORE INSERT ON runs WHEN NEW.trigger = 'event' "
    "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END";
const char* kRefuseEventRunsPostgres =
    "CREATE FUNCTION refuse_event_runs() RETURNS trigger LANGUAGE plpgsql AS "
    "$$BEGIN RAISE EXCEPTION 'no space left on device'; END$$; "
    "CREATE TRIGGER refuse_event_runs BEFORE INSERT ON runs FOR EACH ROW WHEN (NEW.trigger = 'event') "
    "EXECUTE FUNCTION refuse_event_runs()";

}  // namespace

STORE_CONTRACT_TEST("an event whose runs could not be recorded is fired again, and each job runs once",
                    "[dispatch][events]") {
  Backend backend;
  test::FakeClock clock(kT0);
  auto store = backend.open();
  std::atomic<int> ran{0};
  dispatch::SchedulerOptions options;
  options.workers = 2;
  options.clock = &clock;
  options.run = [&](run::RunContext&) {
    ++ran;
    return run::RunResult{};
  };
  dispatch::Scheduler scheduler(*store, options);
  scheduler.start({on_approved("deploy"), on_approved("notify")});

  const bool sqlite = std::is_same_v<Backend, test::SqliteBackend>;
  backend.execute(sqlite ? kRefuseEventRunsSqlite : kRefuseEventRunsPostgres);
  auto asked = store->approval_request("version-check", "update", "0.1.5", "update to 0.1.5", "{}", kT0).value();
  store->approval_decide(asked.approval.id, ApprovalStatus::kApproved, "alice", "", kT0).value();

  dispatch::EventPump pump(*store, scheduler, std::chrono::milliseconds(300));
  pump.start();
  // Fired, but its runs cannot be recorded: the event stays undelivered, and nothing ran.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(backend.scalar("SELECT count(*) FROM events WHERE delivered_at IS NULL") == 1);
  CHECK(backend.scalar("SELECT count(*) FROM runs") == 0);
  CHECK(ran == 0);

  // The store takes writes again: the event is fired again, runs each job once, and is delivered.
  backend.execute(sqlite ? "DROP TRIGGER refuse_event_runs" : "DROP TRIGGER refuse_event_runs ON runs");
  REQUIRE(eventually([&] { return ran == 2; }, std::chrono::seconds(10)));
  store->flush();
  CHECK(eventually([&] { return backend.scalar("SELECT count(*) FROM events WHERE delivered_at IS NULL") == 0; },
                   std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // a few more rounds of the pump: nothing more
  pump.stop();
  scheduler.shutdown(std::chrono::seconds(1));
  CHECK(ran == 2);
  CHECK(backend.scalar("SELECT count(*) FROM runs WHERE trigger = 'event'") == 2);
}

STORE_CONTRACT_TEST("two hosts pumping one event run each job once", "[dispatch][events]") {
  Backend backend;
  test::FakeClock clock(kT0);
  auto store = backend.open();
  // The other host: on PostgreSQL a second daemon on the database; a state file has one host,
  // so there the two schedulers share it.
  auto other = std::is_same_v<Backend, test::PgBackend> ? backend.open() : nullptr;
  store::Store& beside = other ? *other : *store;
  std::atomic<int> ran{0};
  dispatch::SchedulerOptions options;
  options.workers = 2;
  options.clock = &clock;
  options.run = [&](run::RunContext&) {
    ++ran;
    return run::RunResult{};
  };
  dispatch::Scheduler first(*store, options), second(beside, options);
  first.start({on_approved("deploy"), on_approved("notify")});
  second.start({on_approved("deploy"), on_approved("notify")});
  auto asked = store->approval_request("version-check", "update", "0.1.5", "update to 0.1.5", "{}", kT0).value();
  store->approval_decide(asked.approval.id, ApprovalStatus::kApproved, "alice", "", kT0).value();
  // Both see the event before either has delivered it, and both fire it.
  first.fire_event("approval.approved", nlohmann::json::object(), backend.scalar("SELECT max(id) FROM events"));
  second.fire_event("approval.approved", nlohmann::json::object(), backend.scalar("SELECT max(id) FROM events"));
  REQUIRE(eventually([&] { return ran >= 2; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  first.shutdown(std::chrono::seconds(1));
  second.shutdown(std::chrono::seconds(1));
  CHECK(ran == 2);
  CHECK(backend.scalar("SELECT count(*) FROM runs WHERE trigger = 'event'") == 2);
  CHECK(backend.scalar("SELECT count(*) FROM events WHERE delivered_at IS NULL") == 0);
}
