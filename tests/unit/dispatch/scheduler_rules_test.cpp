// The scheduler's rules with a clock the test moves and a real state store (each backend): retries that
// outlive the host, recovery retries beside catch-up, the catch-up position, and key-value
// writes that commit with the run's outcome. The runs themselves are a function of the test
// (SchedulerOptions::run), so a table says which attempt fails.
#include <catch2/catch.hpp>

#include <algorithm>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "../support/fake_clock.hpp"
#include "../store/backends.hpp"
#include "../support/temp_dir.hpp"
#include "config/job_loader.hpp"
#include "dispatch/job_registry.hpp"
#include "dispatch/scheduler.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using store::RunStatus;
using store::Trigger;

namespace {

// 2026-12-01T00:00:00Z: slots of `every minute` fall on whole minutes from here.
constexpr int64_t kT0 = 1'796'083'200'000;
constexpr int64_t kMinute = 60'000;

std::shared_ptr<const config::JobSpec> job(const std::string& yaml, const std::string& cron = "* * * * *") {
  config::Diagnostics diagnostics;
  auto spec = config::load_job_text("job.yaml", "run: {http: {url: \"http://127.0.0.1:9/\"}}\nschedule: {cron: \"" + cron + "\"}\n" + yaml, "/tmp", {},
                                    diagnostics);
  INFO((diagnostics.empty() ? std::string() : diagnostics.front().message));
  REQUIRE(spec);
  return std::make_shared<const config::JobSpec>(std::move(*spec));
}

struct RunRow {
  int64_t slot;
  Trigger trigger;
  int attempt;
  RunStatus status;
  bool operator==(const RunRow&) const = default;
};

std::ostream& operator<<(std::ostream& out, const RunRow& r) {
  return out << "{+" << (r.slot - kT0) / kMinute << "m " << store::to_string(r.trigger) << " #" << r.attempt << " "
             << store::to_string(r.status) << "}";
}

std::vector<RunRow> rows(store::Store& store) {
  store.flush();
  auto all = store.runs({.limit = 1000});
  std::vector<RunRow> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) out.push_back({it->scheduled_for, it->trigger, it->attempt, it->status});
  return out;
}

// Waits (real time, bounded) until `done` holds.
template <typename F>
bool eventually(F done, int tries = 2000) {
  for (int i = 0; i < tries; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

size_t finished_runs(store::Store& store) {
  store.flush();
  size_t n = 0;
  for (const auto& r : store.runs({.limit = 1000})) n += store::is_final(r.status);
  return n;
}

dispatch::SchedulerOptions options(test::FakeClock& clock, std::function<run::RunResult(run::RunContext&)> run) {
  dispatch::SchedulerOptions o;
  o.workers = 2;
  o.clock = &clock;
  o.run = std::move(run);
  return o;
}

run::RunResult failed() { return {RunStatus::kFailed, "", "boom"}; }

// The runs of a job with slots at +0m and +1m: +0m fails its first attempt, +1m runs long
// (until `released`), anything else succeeds.
std::function<run::RunResult(run::RunContext&)> first_fails_next_holds(std::shared_future<void> released) {
  return [released](run::RunContext& ctx) {
    if (ctx.scheduled_for_ms == kT0 && ctx.attempt == 1) return failed();
    if (ctx.scheduled_for_ms == kT0 + kMinute) released.wait();
    return run::RunResult{};
  };
}

}  // namespace

STORE_CONTRACT_TEST("a retry waiting out its backoff runs after the host restarts", "[dispatch][retry]") {
  Backend backend;
  test::FakeClock clock(kT0 - 1000);
  const auto spec = job("retries: {attempts: 3, backoff: 10s, max_backoff: 10s}\ncatchup: {policy: skip}\n");
  {
    auto store = backend.open();
    dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return failed(); }));
    scheduler.start({spec});
    clock.set(kT0);
    REQUIRE(eventually([&] { return finished_runs(*store) == 1; }));
    scheduler.shutdown(std::chrono::seconds(1));  // a clean stop while the retry waits (5-10 s)
    const auto first = store->runs({.limit = 1}).front();
    REQUIRE(first.retry_at);
    CHECK(*first.retry_at >= kT0 + 5000);
  }
  clock.set(kT0 + 30'000);  // back after the retry was due, before the next slot
  auto store = backend.open();
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  scheduler.start({spec});
  REQUIRE(eventually([&] { return finished_runs(*store) == 2; }));
  scheduler.shutdown(std::chrono::seconds(1));
  CHECK(rows(*store) == std::vector<RunRow>{{kT0, Trigger::kSchedule, 1, RunStatus::kFailed},
                                            {kT0, Trigger::kRetry, 2, RunStatus::kSucceeded}});
  const auto runs = store->runs({.limit = 2});
  CHECK(runs[0].first_run_id == runs[1].id);
  CHECK_FALSE(runs[1].retry_at);  // taken by the retry's claim
  CHECK(store->pending_retries().empty());
}

STORE_CONTRACT_TEST("a pending retry of a job that is gone is recorded with why it did not run", "[dispatch][retry]") {
  Backend backend;
  test::FakeClock clock(kT0 - 1000);
  {
    auto store = backend.open();
    dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return failed(); }));
    scheduler.start({job("retries: {attempts: 2, backoff: 10s}\n")});
    clock.set(kT0);
    REQUIRE(eventually([&] { return finished_runs(*store) == 1; }));
    scheduler.shutdown(std::chrono::seconds(1));
  }
  auto store = backend.open();
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  scheduler.start({});
  scheduler.shutdown(std::chrono::seconds(1));
  const auto run = store->runs({.limit = 1}).front();
  CHECK_FALSE(run.retry_at);
  CHECK(run.notes == "retry not run: the job is no longer defined");
}

STORE_CONTRACT_TEST("after a crash, the interrupted slot's retry and catch-up both run", "[dispatch][retry][catchup]") {
  // concurrency forbid, catchup all: the interrupted run's retry must not be skipped as
  // "still going" because a catch-up run went first, and catch-up must not skip it either.
  Backend backend;
  const auto spec =
      job("retries: {attempts: 2, backoff: 1s}\nconcurrency: forbid\ncatchup: {policy: all, window: 1h}\n");
  {  // a host that claimed the slot at +0m, started it and died
    auto store = backend.open();
    store::NewRun run{.job = "job", .trigger = Trigger::kSchedule, .scheduled_for = kT0, .status = RunStatus::kRunning,
                      .started_at = kT0, .record_slot = true};
    REQUIRE(store->claim(run).value());
  }
  test::FakeClock clock(kT0 + 2 * kMinute + 30'000);  // back at +2m30s: +1m and +2m were missed
  auto store = backend.open();
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return run::RunResult{};
  }));
  scheduler.start({spec});
  // On a shared store (PostgreSQL) the dead host's run is reaped after its lease, not at start.
  REQUIRE(eventually([&] { return finished_runs(*store) == 4; }, 6000));
  scheduler.shutdown(std::chrono::seconds(1));
  auto ran = rows(*store);
  if (store->shared())  // reaped after its lease, not at start: the retry runs after the catch-up
    std::stable_sort(ran.begin(), ran.end(), [](const RunRow& a, const RunRow& b) { return a.slot < b.slot; });
  CHECK(ran == std::vector<RunRow>{{kT0, Trigger::kSchedule, 1, RunStatus::kInterrupted},
                                            {kT0, Trigger::kRetry, 2, RunStatus::kSucceeded},
                                            {kT0 + kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded},
                                            {kT0 + 2 * kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded}});
}

STORE_CONTRACT_TEST("a retry due while the next slot runs waits for it instead of being skipped", "[dispatch][retry]") {
  Backend backend;
  test::FakeClock clock(kT0 - 1000);
  auto store = backend.open();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  dispatch::Scheduler scheduler(
      *store, options(clock, first_fails_next_holds(released)));
  // Two slots only (+0m and +1m); the retry of +0m falls due 120-240 s later, while +1m runs.
  scheduler.start({job("retries: {attempts: 2, backoff: 4m, max_backoff: 4m}\nconcurrency: forbid\n", "0,1 0 * * *")});
  clock.set(kT0);
  REQUIRE(eventually([&] { return finished_runs(*store) == 1; }));
  clock.set(kT0 + kMinute);  // the next slot starts and holds
  REQUIRE(eventually([&] { return scheduler.running("job") == 1 && rows(*store).size() == 2; }));
  clock.set(kT0 + 5 * kMinute);  // the retry is due meanwhile
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();
  REQUIRE(eventually([&] { return finished_runs(*store) == 3; }));
  scheduler.shutdown(std::chrono::seconds(1));
  CHECK(rows(*store) == std::vector<RunRow>{{kT0, Trigger::kSchedule, 1, RunStatus::kFailed},
                                            {kT0 + kMinute, Trigger::kSchedule, 1, RunStatus::kSucceeded},
                                            {kT0, Trigger::kRetry, 2, RunStatus::kSucceeded}});
}

STORE_CONTRACT_TEST("the catch-up position never passes a missed slot still waiting to run", "[dispatch][catchup]") {
  // catchup all + forbid: missed slots run one by one; a newer slot that comes meanwhile is
  // skipped, and that skip must not move the position past the slots still waiting.
  Backend backend;
  const auto spec = job("concurrency: forbid\ncatchup: {policy: all, window: 1h}\n");
  {
    auto store = backend.open();
    store->record_fire("job", kT0, std::nullopt);  // the last slot fired before the host went down
  }
  test::FakeClock clock(kT0 + 3 * kMinute + 30'000);  // +1m, +2m, +3m missed
  auto store = backend.open();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  dispatch::Scheduler scheduler(*store, options(clock, [&](run::RunContext&) {
    released.wait();
    return run::RunResult{};
  }));
  scheduler.start({spec});
  REQUIRE(eventually([&] { return scheduler.running("job") == 1; }));  // +1m runs, +2m and +3m wait
  clock.set(kT0 + 4 * kMinute);  // the next slot comes while catch-up is under way: skipped
  REQUIRE(eventually([&] { return rows(*store).size() == 2; }));
  const auto position = store->job_state("job")->last_slot;
  release.set_value();
  REQUIRE(eventually([&] { return finished_runs(*store) == 4; }));
  scheduler.shutdown(std::chrono::seconds(1));
  // A crash at that moment would have restarted catch-up from here: +2m and +3m not yet run.
  REQUIRE(position);
  CHECK(*position < kT0 + 2 * kMinute);
  CHECK(rows(*store) == std::vector<RunRow>{{kT0 + kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded},
                                            {kT0 + 4 * kMinute, Trigger::kSchedule, 1, RunStatus::kSkipped},
                                            {kT0 + 2 * kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded},
                                            {kT0 + 3 * kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded}});
  CHECK(*store->job_state("job")->last_slot == kT0 + 4 * kMinute);
}

STORE_CONTRACT_TEST("catch-up after a crash runs the waiting slots and none that already ran", "[dispatch][catchup]") {
  // The state a crash leaves in the case above: position before +2m, +4m recorded skipped.
  Backend backend;
  {
    auto store = backend.open();
    store->record_fire("job", kT0 + kMinute, std::nullopt);
    store::NewRun done{.job = "job", .trigger = Trigger::kCatchup, .scheduled_for = kT0 + kMinute,
                       .status = RunStatus::kSkipped};
    store::NewRun skipped{.job = "job", .trigger = Trigger::kSchedule, .scheduled_for = kT0 + 4 * kMinute,
                          .status = RunStatus::kSkipped};
    REQUIRE(store->claim(done).value());
    REQUIRE(store->claim(skipped).value());
  }
  test::FakeClock clock(kT0 + 4 * kMinute + 30'000);
  auto store = backend.open();
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  scheduler.start({job("concurrency: forbid\ncatchup: {policy: all, window: 1h}\n")});
  REQUIRE(eventually([&] { return finished_runs(*store) == 4; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  scheduler.shutdown(std::chrono::seconds(1));
  const auto all = rows(*store);
  REQUIRE(all.size() == 4);
  CHECK(all[2] == RunRow{kT0 + 2 * kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded});
  CHECK(all[3] == RunRow{kT0 + 3 * kMinute, Trigger::kCatchup, 1, RunStatus::kSucceeded});
}

STORE_CONTRACT_TEST("at start each job's catch-up counts from its own last slot, whatever order the names sort in",
                    "[dispatch][catchup]") {
  // The store hands the last slots in no set order, and a database's collation may sort "Zeta"
  // after "delta" where std::map puts it first; jobs never fired and a gone job's state lie
  // between the defined ones.
  Backend backend;
  {
    auto store = backend.open();
    store->record_fire("bravo", kT0, std::nullopt);
    store->record_fire("bravo-gone", kT0 - 10 * kMinute, std::nullopt);
    store->record_fire("delta", kT0 + kMinute, std::nullopt);
    store->record_fire("Zeta", kT0 + 2 * kMinute, std::nullopt);
    REQUIRE(store->set_enabled_override("charlie", true));  // a state row without a slot
    store->flush();
  }
  const int64_t now = kT0 + 3 * kMinute + 30'000;
  test::FakeClock clock(now);
  auto store = backend.open();
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  std::vector<std::shared_ptr<const config::JobSpec>> jobs;
  for (const char* name : {"alpha", "bravo", "charlie", "delta", "Zeta"})
    jobs.push_back(job(std::string("name: ") + name + "\ncatchup: {policy: all, window: 1h}\n"));
  scheduler.start(jobs);
  REQUIRE(eventually([&] { return finished_runs(*store) == 6; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  scheduler.shutdown(std::chrono::seconds(1));
  const auto slots_run = [&](const std::string& name) {
    std::set<int64_t> slots;
    for (const auto& run : store->runs({.job = name, .limit = 100})) {
      CHECK(run.trigger == Trigger::kCatchup);
      slots.insert((run.scheduled_for - kT0) / kMinute);
    }
    return slots;
  };
  CHECK(slots_run("bravo") == std::set<int64_t>{1, 2, 3});
  CHECK(slots_run("delta") == std::set<int64_t>{2, 3});
  CHECK(slots_run("Zeta") == std::set<int64_t>{3});
  for (const char* first_seen : {"alpha", "charlie"}) {
    CHECK(slots_run(first_seen).empty());
    CHECK(store->job_state(first_seen)->last_slot == now);  // downtime counts from now on
  }
  CHECK(slots_run("bravo-gone").empty());
}

STORE_CONTRACT_TEST("an executor's start reads no last slots: it catches nothing up", "[dispatch][catchup]") {
  Backend backend;
  auto store = backend.open();
  store->record_fire("job", kT0, std::nullopt);
  store->flush();
  backend.execute("ALTER TABLE job_state RENAME COLUMN last_slot TO unreadable");
  test::FakeClock clock(kT0 + 3 * kMinute);
  auto o = options(clock, [](run::RunContext&) { return run::RunResult{}; });
  o.role = dispatch::HostRole::kExecutor;
  dispatch::Scheduler scheduler(*store, o);
  CHECK_NOTHROW(scheduler.start({job("name: job\n")}));
  scheduler.shutdown(std::chrono::seconds(1));
  o.role = dispatch::HostRole::kAll;  // a host that fires needs them: its start fails
  dispatch::Scheduler firing(*store, o);
  CHECK_THROWS(firing.start({job("name: job\n")}));
}

STORE_CONTRACT_TEST("a start that cannot read the jobs' overrides fails rather than run a paused job", "[dispatch]") {
  Backend backend;
  auto store = backend.open();
  REQUIRE(store->set_enabled_override("paused", false));
  backend.execute("ALTER TABLE job_state RENAME COLUMN schedule_override TO unreadable");
  test::FakeClock clock(kT0);
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  dispatch::JobRegistry registry(*store, scheduler, {});
  // The host then says why and exits 1 (cli/run_command.cpp).
  CHECK_THROWS_WITH(registry.start({job("name: paused\n")}, {}), Catch::Contains("cannot read the jobs' overrides"));
}

STORE_CONTRACT_TEST("a start that cannot read the registered jobs fails rather than leave them unscheduled",
                    "[dispatch]") {
  Backend backend;
  auto store = backend.open();
  REQUIRE(store->save_registered_job({"svc", R"({"name":"svc","run":{"http":{"url":"http://127.0.0.1:9/"}}})",
                                      "alice", kT0, kT0}));
  backend.execute("ALTER TABLE registered_jobs RENAME COLUMN definition TO unreadable");
  test::FakeClock clock(kT0);
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  dispatch::JobRegistry registry(*store, scheduler, {});
  CHECK_THROWS_WITH(registry.start({}, {}), Catch::Contains("cannot read the registered jobs"));
}

STORE_CONTRACT_TEST("state writes commit with the run's outcome, never before", "[dispatch][kv]") {
  Backend backend;
  test::FakeClock clock(kT0 - 1000);
  auto store = backend.open();
  std::promise<void> wrote, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> put_ok{false}, read_own{false};  // checked here: Catch2 asserts on this thread only
  dispatch::Scheduler scheduler(*store, options(clock, [&](run::RunContext& ctx) {
    put_ok = ctx.kv.put("count", "1").is_ok();
    read_own = ctx.kv.get("count").value() == std::optional<std::string>("1");  // the run sees its own write
    wrote.set_value();
    released.wait();
    return run::RunResult{};
  }));
  scheduler.start({job("")});
  clock.set(kT0);
  wrote.get_future().wait();
  CHECK(put_ok);
  CHECK(read_own);
  store->flush();
  CHECK_FALSE(store->kv_get("job", "count").value());  // a crash now leaves nothing behind
  release.set_value();
  REQUIRE(eventually([&] { return finished_runs(*store) == 1; }));
  scheduler.shutdown(std::chrono::seconds(1));
  CHECK(store->kv_get("job", "count").value() == std::optional<std::string>("1"));
}

STORE_CONTRACT_TEST("an approval event fires only the jobs that may see the asking job's approvals", "[dispatch][approvals]") {
  Backend backend;
  test::FakeClock clock(kT0);
  auto store = backend.open();
  const auto on_approved = [](const std::string& name, const std::string& allow) {
    config::Diagnostics diagnostics;
    auto spec = config::load_job_text(name + ".yaml",
                                      "run: {http: {url: \"http://127.0.0.1:9/\"}}\n"
                                      "schedule: {on: approval.approved, kind: update}\n" + allow,
                                      "/tmp", {}, diagnostics);
    REQUIRE(spec);
    return std::make_shared<const config::JobSpec>(std::move(*spec));
  };
  std::mutex mutex;
  std::multiset<std::string> ran;
  dispatch::Scheduler scheduler(*store, options(clock, [&](run::RunContext& ctx) {
    std::lock_guard lock(mutex);
    ran.insert(ctx.job.name);
    return run::RunResult{};
  }));
  scheduler.start({on_approved("version-check", ""), on_approved("notice", "allow: {approvals: [version-check]}\n"),
                   on_approved("auditor", "allow: {approvals: ['*']}\n"), on_approved("intruder", ""),
                   on_approved("other", "allow: {approvals: [staging-check]}\n")});
  const nlohmann::json approval = {{"id", 1}, {"job", "version-check"}, {"kind", "update"}, {"key", "0.1.5"}};
  CHECK(scheduler.fire_event("approval.approved", approval) == 3);
  CHECK(scheduler.fire_event("approval.cancelled", approval) == 0);  // no job listens for it
  REQUIRE(eventually([&] { return finished_runs(*store) == 3; }));
  scheduler.shutdown(std::chrono::seconds(1));
  std::lock_guard lock(mutex);
  CHECK(ran == std::multiset<std::string>{"auditor", "notice", "version-check"});
}

namespace {

// Counts the loop's beats as the service watchdog would see them.
struct RecordingHeartbeat final : dispatch::LoopHeartbeat {
  std::atomic<size_t> beats{0}, jobs{0}, max_running{0};
  void beat(size_t job_count, size_t running) override {
    ++beats;
    jobs = job_count;
    if (running > max_running) max_running = running;
  }
};

}  // namespace

TEST_CASE("the scheduler's loop beats with the jobs and the runs going, and stops beating once shut down",
          "[dispatch][heartbeat]") {
  test::SqliteBackend backend;
  auto store = backend.open();
  test::FakeClock clock(kT0 - 1000);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  RecordingHeartbeat heartbeat;
  auto o = options(clock, [released](run::RunContext&) {
    released.wait();  // one run held going until the test has seen it
    return run::RunResult{};
  });
  o.heartbeat = &heartbeat;
  dispatch::Scheduler scheduler(*store, o);
  scheduler.start({job("")});
  CHECK(eventually([&] { return heartbeat.beats > 0 && heartbeat.jobs == 1; }));
  clock.set(kT0);
  CHECK(eventually([&] { return heartbeat.max_running == 1; }));
  release.set_value();
  scheduler.shutdown(std::chrono::seconds(1));
  const size_t after_shutdown = heartbeat.beats;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the fake clock's loop would beat every ms
  CHECK(heartbeat.beats == after_shutdown);
}

STORE_CONTRACT_TEST("a reload handing over the same definitions keeps their fires, a new definition replaces its fire",
                    "[dispatch][reload]") {
  // A SIGHUP reload shares the definitions of unchanged job files (config/job_file_cache.hpp),
  // and the scheduler then keeps their queued fires instead of queueing them again: the runs
  // must be the ones a reinstall gives.
  Backend backend;
  test::FakeClock clock(kT0 - 1000);
  auto store = backend.open();
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  const auto spec = job("catchup: {policy: skip}\n");
  scheduler.start({spec});
  scheduler.reload({spec});
  scheduler.reload({spec});
  clock.set(kT0);
  REQUIRE(eventually([&] { return finished_runs(*store) == 1; }));
  scheduler.reload({job("catchup: {policy: skip}\n", "*/2 * * * *")});  // same name, new definition
  clock.set(kT0 + kMinute);  // not a slot of */2
  clock.set(kT0 + 2 * kMinute);
  REQUIRE(eventually([&] { return finished_runs(*store) == 2; }));
  scheduler.shutdown(std::chrono::seconds(1));
  CHECK(rows(*store) == std::vector<RunRow>{{kT0, Trigger::kSchedule, 1, RunStatus::kSucceeded},
                                            {kT0 + 2 * kMinute, Trigger::kSchedule, 1, RunStatus::kSucceeded}});
}

namespace {

// The default logger swapped for one whose sink holds each thread logging "run finished"
// until opened: a worker held in its run's tail (after the outcome went to the store), as a
// slow writeback or a log pipe nobody reads would hold it.
class TailGate : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  // Holds only the "run finished" lines that hold each of `marks` (say "trigger=schedule").
  explicit TailGate(std::vector<std::string> marks = {}) : marks_(std::move(marks)) {}
  void open() {
    std::call_once(once_, [&] { opened_.set_value(); });
  }
  bool wait_held() {
    return eventually([&] { return held_.load() > 0; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view line(msg.payload.data(), msg.payload.size());
    if (line.starts_with("run finished") &&
        std::all_of(marks_.begin(), marks_.end(), [&](const auto& mark) { return line.find(mark) != line.npos; })) {
      ++held_;
      gate_.wait();
    }
  }
  void flush_() override {}

 private:
  const std::vector<std::string> marks_;
  std::once_flag once_;
  std::promise<void> opened_;
  std::shared_future<void> gate_ = opened_.get_future().share();
  std::atomic<int> held_{0};
};

struct DefaultLoggerSwap {
  std::shared_ptr<spdlog::logger> before = spdlog::default_logger();
  explicit DefaultLoggerSwap(std::shared_ptr<spdlog::sinks::sink> sink) {
    auto logger = std::make_shared<spdlog::logger>("tail-gate", std::move(sink));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
  }
  ~DefaultLoggerSwap() { spdlog::set_default_logger(before); }
};

}  // namespace

STORE_CONTRACT_TEST("a run whose outcome the store has no longer holds its job's slot while its worker finishes up",
                    "[dispatch][concurrency]") {
  // A client that sees a forbid job's run finished and triggers it again was refused ("the
  // previous run is still going") while the worker was still logging, notifying or writing
  // back: CI saw it in test_api.py.
  auto gate = std::make_shared<TailGate>();
  DefaultLoggerSwap swap(gate);  // before any thread logs: spdlog's default logger is not swapped under them
  Backend backend;
  auto store = backend.open();
  test::FakeClock clock(kT0 - 1000);
  dispatch::Scheduler scheduler(*store, options(clock, [](run::RunContext&) { return run::RunResult{}; }));
  struct OpenAtExit {  // a failed REQUIRE leaves no worker held while the scheduler stops
    TailGate& gate;
    ~OpenAtExit() { gate.open(); }
  } open_at_exit{*gate};
  scheduler.start({job("concurrency: forbid\n", "0 0 1 1 *")});  // New Year: manual runs only here

  const auto first = scheduler.trigger("job", nlohmann::json::object(), "test");
  REQUIRE(first.refusal == dispatch::Triggered::Refusal::kNone);
  REQUIRE(gate->wait_held());
  REQUIRE(eventually([&] {
    store->flush();
    const auto run = store->run(first.run_id);
    return run && store::is_final(run->status);
  }));
  CHECK(scheduler.running("job") == 0);
  const auto second = scheduler.trigger("job", nlohmann::json::object(), "test");
  CHECK(second.message == "");
  CHECK(second.refusal == dispatch::Triggered::Refusal::kNone);

  gate->open();
  CHECK(eventually([&] { return finished_runs(*store) == 2; }));
  scheduler.shutdown(std::chrono::seconds(1));
}

STORE_CONTRACT_TEST("a retry waiting for a run goes once that run's outcome is recorded, not after its worker's tail",
                    "[dispatch][concurrency][retry]") {
  auto gate = std::make_shared<TailGate>(std::vector<std::string>{"trigger=schedule", "status=succeeded"});
  DefaultLoggerSwap swap(gate);
  Backend backend;
  auto store = backend.open();
  test::FakeClock clock(kT0 - 1000);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  dispatch::Scheduler scheduler(
      *store, options(clock, first_fails_next_holds(released)));
  struct OpenAtExit {
    TailGate& gate;
    std::promise<void>& release;
    ~OpenAtExit() {
      gate.open();
      try {
        release.set_value();
      } catch (const std::future_error&) {  // set already
      }
    }
  } open_at_exit{*gate, release};
  // As in "a retry due while the next slot runs waits for it": the retry of +0m waits for +1m.
  scheduler.start({job("retries: {attempts: 2, backoff: 4m, max_backoff: 4m}\nconcurrency: forbid\n", "0,1 0 * * *")});
  clock.set(kT0);
  REQUIRE(eventually([&] { return finished_runs(*store) == 1; }));
  clock.set(kT0 + kMinute);
  REQUIRE(eventually([&] { return scheduler.running("job") == 1 && rows(*store).size() == 2; }));
  clock.set(kT0 + 5 * kMinute);  // the retry is due meanwhile, and waits
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();
  REQUIRE(gate->wait_held());  // +1m's worker, in its tail
  CHECK(eventually([&] { return finished_runs(*store) == 3; }));  // the retry ran meanwhile
  gate->open();
  scheduler.shutdown(std::chrono::seconds(1));
  CHECK(rows(*store) == std::vector<RunRow>{{kT0, Trigger::kSchedule, 1, RunStatus::kFailed},
                                            {kT0 + kMinute, Trigger::kSchedule, 1, RunStatus::kSucceeded},
                                            {kT0, Trigger::kRetry, 2, RunStatus::kSucceeded}});
}
