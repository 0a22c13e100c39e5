// The state store: exactly-once slot claims, crash recovery, the key-value store and pruning
// on every backend (store/backends.hpp); the SQLite file's migrations, host lock, scratch
// copies and WAL bound.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <type_traits>

#include "../support/temp_dir.hpp"
#include "backends.hpp"
#include "store/migrations.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using namespace cronhost::store;

namespace {

NewRun slot(const std::string& job, int64_t at, int attempt = 1, Trigger trigger = Trigger::kSchedule) {
  NewRun run;
  run.job = job;
  run.trigger = trigger;
  run.scheduled_for = at;
  run.attempt = attempt;
  run.started_at = at + 3;
  run.lateness_ms = 3;
  return run;
}

// A slot claimed to run later: its start is written by mark_started.
NewRun queued_slot(const std::string& job, int64_t at) {
  NewRun run = slot(job, at);
  run.status = RunStatus::kQueued;
  return run;
}

// The run's row as its start and its result left it.
void check_run(Store& store, int64_t id, RunStatus status, int64_t started, int64_t lateness, int64_t finished) {
  INFO("run " << id);
  const auto run = store.run(id);
  REQUIRE(run);
  CHECK(run->status == status);
  CHECK(run->started_at == started);
  CHECK(run->lateness_ms == lateness);
  CHECK(run->finished_at == finished);
}

// `count` finished (skipped) runs of `job`, a second apart from 0, in one claim batch.
void claim_finished_runs(Store& store, const std::string& job, int count) {
  std::vector<NewRun> runs;
  for (int i = 0; i < count; ++i) {
    NewRun run = slot(job, int64_t{i} * 1000);
    run.status = RunStatus::kSkipped;
    runs.push_back(run);
  }
  REQUIRE(store.claim_batch(runs).value().size() == runs.size());
}

// A prune on a thread of its own, and claims one at a time until it ends: each should wait for
// a step of the prune at most, not for all of it (compared as a ratio: this machine's speed varies).
struct ClaimsDuringPrune {
  int64_t removed = 0;
  std::chrono::steady_clock::duration took{}, longest{};
  int claims = 0;
};

std::ostream& operator<<(std::ostream& out, const ClaimsDuringPrune& d) {
  using ms = std::chrono::milliseconds;
  return out << d.claims << " claims during a prune of " << std::chrono::duration_cast<ms>(d.took).count()
             << " ms, the longest waited " << std::chrono::duration_cast<ms>(d.longest).count() << " ms";
}

ClaimsDuringPrune claims_during_prune(Store& store, const Retention& retention, int64_t now) {
  ClaimsDuringPrune during;
  std::atomic<bool> pruned{false};
  std::thread prune([&] {
    const auto started = std::chrono::steady_clock::now();
    during.removed = store.prune(retention, now);
    during.took = std::chrono::steady_clock::now() - started;
    pruned = true;
  });
  for (int64_t at = 0; !pruned; at += 1000, ++during.claims) {
    const auto started = std::chrono::steady_clock::now();
    const auto claimed = store.claim(slot("other", at));
    CHECK((claimed && claimed.value()));  // no REQUIRE: its throw would leave the thread unjoined
    during.longest = std::max(during.longest, std::chrono::steady_clock::now() - started);
  }
  prune.join();
  return during;
}

// A state file an older cronhost left at schema `version`, with a run of backup's slot 1000
// and a catch-up of its slot 2000.
void write_state_at_version(const std::filesystem::path& path, size_t version) {
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  for (size_t i = 0; i < version; ++i) db.exec(std::string(migrations()[i]));
  db.exec("PRAGMA user_version = " + std::to_string(version));
  db.exec("INSERT INTO runs (job, trigger, scheduled_for, attempt, status, queued_at) VALUES "
          "('backup', 'schedule', 1000, 1, 'succeeded', 1003), ('backup', 'catchup', 2000, 1, 'failed', 2500)");
}

}  // namespace

TEST_CASE("a new state file is migrated to the latest version", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  { auto store = Store::open(path).value(); }
  SQLite::Database db(path.string());
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == static_cast<int>(migrations().size()));
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  for (const char* table : {"job_state", "runs", "kv", "approvals"}) {
    INFO(table);
    CHECK(db.execAndGet(std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table + "'").getInt() == 1);
  }
}

TEST_CASE("a state file from before migration 013 keeps its runs, and a slot it ran is still refused", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  write_state_at_version(path, 12);
  auto store = Store::open(path).value();
  CHECK_FALSE(store->claim(slot("backup", 1000)).value());
  CHECK_FALSE(store->claim(slot("backup", 2000, 1, Trigger::kRetry)).value());
  CHECK(store->claim(slot("backup", 2000, 2, Trigger::kRetry)).value());
  CHECK(store->claimed_slots({{"backup", 0}}, 3000) ==
        std::map<std::string, std::set<int64_t>>{{"backup", {1000, 2000}}});
  store.reset();
  // The slot's index leads with its time, so a claim writes on its last pages and not on a
  // page of its job's (the 10,000 runs/s tail, README).
  SQLite::Database db(path.string());
  CHECK(db.execAndGet("SELECT name FROM pragma_index_info('runs_slot') WHERE seqno = 0").getString() == "scheduled_for");
}

namespace {

// How many temporary b-trees a statement builds each time it runs (EXPLAIN's OpenEphemeral).
int temporary_tables(SQLite::Database& db, const std::string& sql) {
  SQLite::Statement q(db, "EXPLAIN " + sql);
  int found = 0;
  while (q.executeStep()) found += q.getColumn(1).getString() == "OpenEphemeral";
  return found;
}

// The runs' rules after every migration: each named value is taken, any other is refused, and
// a slot (not a manual run's time) is taken once.
void check_runs_rules(SQLite::Database& db) {
  int64_t slot = 9000;  // one each: schedule, retry and catchup share the slot's rule
  for (const char* trigger : {"schedule", "manual", "retry", "catchup", "after", "event"}) {
    INFO(trigger);
    SQLite::Statement q(db, "INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('rules', ?, ?, 'queued')");
    q.bind(1, trigger);
    q.bind(2, ++slot);
    CHECK(q.exec() == 1);
  }
  for (const char* status : {"queued", "running", "succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted"}) {
    INFO(status);
    SQLite::Statement q(db, "UPDATE runs SET status = ? WHERE job = 'rules' AND trigger = 'manual'");
    q.bind(1, status);
    CHECK(q.exec() == 1);
  }
  CHECK_THROWS_WITH(db.exec("INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('rules', 'cron', 9001, 'queued')"),
                    Catch::Matchers::Contains("CHECK constraint failed"));
  CHECK_THROWS_WITH(db.exec("INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('rules', 'manual', 9001, 'done')"),
                    Catch::Matchers::Contains("CHECK constraint failed"));
  CHECK_THROWS_WITH(db.exec("UPDATE runs SET status = 'Succeeded' WHERE job = 'rules'"),
                    Catch::Matchers::Contains("CHECK constraint failed"));
  for (const char* trigger : {"schedule", "retry", "catchup"}) {  // each on the schedule's slot
    INFO(trigger);
    SQLite::Statement q(db, "INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('rules', ?, 9001, 'queued')");
    q.bind(1, trigger);
    CHECK_THROWS_WITH(q.exec(), Catch::Matchers::Contains("UNIQUE constraint failed"));
  }
  for (const char* trigger : {"manual", "after", "event"})
    CHECK(db.exec(std::string("INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('rules', '") + trigger +
                  "', 9001, 'queued')") == 1);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}

}  // namespace

// A list of three or more values in a CHECK or a partial index's WHERE built a temporary
// b-tree each time it was checked: 3 on every claim, 1 on every start and finish, ~8 us of
// the one writer thread per run (README, performance).
TEST_CASE("a claim, a start and a finish check the runs' rules without building temporary tables", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  { auto store = Store::open(path).value(); }
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
  CHECK(temporary_tables(db, "INSERT OR IGNORE INTO runs (job, trigger, scheduled_for, attempt, status) VALUES (?, ?, ?, ?, ?)") == 0);
  CHECK(temporary_tables(db, "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?") == 0);
  check_runs_rules(db);
}

TEST_CASE("a state file from before migration 014 keeps its runs and its rules", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  write_state_at_version(path, 13);
  SQLite::Database before(path.string(), SQLite::OPEN_READONLY);  // open while the host migrates
  CHECK(before.execAndGet("SELECT count(*) FROM runs").getInt() == 2);
  auto store = Store::open(path).value();
  CHECK_FALSE(store->claim(slot("backup", 1000)).value());
  CHECK_FALSE(store->claim(slot("backup", 2000, 1, Trigger::kRetry)).value());
  const int64_t id = store->claim(slot("backup", 3000)).value().value();
  store->finish(id, "backup", {RunStatus::kSucceeded, 3100, 100, "", "", "", false});
  store->flush();
  CHECK(store->run(id)->status == RunStatus::kSucceeded);
  store.reset();
  // A connection that read the old schema reads the new one at its next statement (the cookie
  // moved on).
  CHECK(before.execAndGet("SELECT count(*) FROM runs").getInt() == 3);
  CHECK(temporary_tables(before, "INSERT OR IGNORE INTO runs (job, trigger, scheduled_for, attempt, status) VALUES (?, ?, ?, ?, ?)") == 0);
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
  CHECK(db.execAndGet("SELECT count(*) FROM runs").getInt() == 3);
  check_runs_rules(db);
}

namespace {

// How many of the WAL's frames from byte `from` on are pages of each table or index (a frame
// names its page; dbstat names the b-tree a page belongs to). The WAL must not have restarted.
std::map<std::string, int> wal_frames_by_btree(const std::filesystem::path& path, size_t from) {
  std::ifstream wal(path.string() + "-wal", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
  const auto u32 = [&](size_t at) {
    return uint32_t(uint8_t(bytes[at])) << 24 | uint32_t(uint8_t(bytes[at + 1])) << 16 |
           uint32_t(uint8_t(bytes[at + 2])) << 8 | uint32_t(uint8_t(bytes[at + 3]));
  };
  const uint32_t page_size = u32(8);
  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  std::map<uint32_t, std::string> owner;
  SQLite::Statement pages(db, "SELECT pageno, name FROM dbstat");
  while (pages.executeStep()) owner[pages.getColumn(0).getUInt()] = pages.getColumn(1).getString();
  std::map<std::string, int> frames;
  for (size_t at = std::max<size_t>(from, 32); at + 24 + page_size <= bytes.size(); at += 24 + page_size) ++frames[owner[u32(at)]];
  return frames;
}

}  // namespace

// A run had an entry in runs_unfinished from its claim and one in runs_finished_at from its
// finish, on two pages: a commit holding one run's finish and the next one's claim wrote
// both, a WAL frame more per run than one index whose key sorts unfinished runs last.
TEST_CASE("runs_by_finish: a run's claim and finish write no more of it than of the runs table, "
          "and a state file from before migration 016 is recovered and pruned through it", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  write_state_at_version(path, 15);  // two finished runs of backup
  SQLite::Database before(path.string(), SQLite::OPEN_READWRITE);
  before.exec("UPDATE runs SET finished_at = queued_at + 1");
  const auto store = Store::open(path).value();
  const auto migrated = std::filesystem::file_size(path.string() + "-wal");  // frames after it are runs'
  for (int i = 0; i < 50; ++i) {
    const int64_t id = store->claim(slot("backup", 10'000 + i * 1000)).value().value();
    store->finish(id, "backup", {RunStatus::kSucceeded, 10'100 + i * 1000, 100, "", "", "", false});
  }
  const int64_t unfinished = store->claim(slot("backup", 3000)).value().value();
  store->flush();
  auto frames = wal_frames_by_btree(path, migrated);
  REQUIRE(frames["runs"] > 0);
  // What finds unfinished runs and old finished ones, before 016 and after.
  CHECK(frames["runs_unfinished"] + frames["runs_finished_at"] + frames["runs_by_finish"] <= frames["runs"]);

  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM sqlite_schema WHERE name IN ('runs_unfinished', 'runs_finished_at')").getInt() == 0);
  // Retention and the start's recovery read the index (their queries spell its key).
  for (const char* query : {"SELECT id FROM runs WHERE ifnull(finished_at, 9223372036854775807) < ? LIMIT ?",
                            "SELECT id FROM runs WHERE ifnull(finished_at, 9223372036854775807) = 9223372036854775807 "
                            "AND status IN ('queued', 'running') ORDER BY id"}) {
    SQLite::Statement plan(db, std::string("EXPLAIN QUERY PLAN ") + query);
    REQUIRE(plan.executeStep());
    CHECK_THAT(plan.getColumn(3).getString(), Catch::Matchers::Contains("INDEX runs_by_finish"));
  }
  // Retention by age: the old finished runs go, the running one stays whatever its age.
  CHECK(store->prune({.keep_days = 1}, 10'000 + 2 * 86'400'000) == 52);
  CHECK(store->run(unfinished));
  CHECK(store->runs({.job = "backup", .limit = 100}).size() == 1);
  const auto recovered = store->recover_unfinished(20'000);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered.front().id == unfinished);
  CHECK(store->run(unfinished)->status == RunStatus::kInterrupted);
}

STORE_CONTRACT_TEST("a slot is claimed once, even across reopen", "[store]") {
  Backend backend;
  int64_t first = 0;
  {
    auto store = backend.open();
    auto a = store->claim(slot("backup", 1000));
    REQUIRE(a);
    REQUIRE(a.value());
    first = **a;
    CHECK_FALSE(store->claim(slot("backup", 1000)).value());   // same slot: refused
    CHECK(store->claim(slot("backup", 1000, 2)).value());      // its retry is another attempt
    CHECK(store->claim(slot("backup", 2000)).value());         // the next slot
    CHECK(store->claim(slot("other", 1000)).value());          // another job
    CHECK_FALSE(store->claim(slot("backup", 1000, 1, Trigger::kCatchup)).value());  // catch-up of a run slot
    CHECK(store->claim(slot("backup", 1000, 1, Trigger::kManual)).value());  // manual runs are not slots
  }
  auto store = backend.reopen();
  CHECK_FALSE(store->claim(slot("backup", 1000)).value());
  CHECK(store->run(first)->status == RunStatus::kRunning);
}

TEST_CASE("a second host on the same file refuses to start", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto first = Store::open(path);
  REQUIRE(first);
  auto second = Store::open(path);
  REQUIRE_FALSE(second);
  CHECK(second.message().find("another cronhost (pid " + std::to_string(::getpid()) + ") is using the state file") == 0);
  first.value().reset();
  CHECK(Store::open(path));  // released with the first
}

TEST_CASE("a second host through a symlink or a hard link to the file refuses to start", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto first = Store::open(path);
  REQUIRE(first);
  std::filesystem::create_symlink(path, dir.path() / "symlink.db");
  std::filesystem::create_hard_link(path, dir.path() / "hard-link.db");
  for (const char* other : {"symlink.db", "hard-link.db"}) {
    INFO(other);
    auto second = Store::open(dir.path() / other);
    REQUIRE_FALSE(second);
    CHECK(second.message().find("another cronhost (pid " + std::to_string(::getpid()) + ") is using the state file") == 0);
  }
  first.value().reset();
  CHECK(Store::open(dir.path() / "hard-link.db"));  // released with the first
}

STORE_CONTRACT_TEST("finish records the outcome and the job's counters", "[store]") {
  Backend backend;
  auto store = backend.open();
  const int64_t id = *store->claim(slot("backup", 1000)).value();
  store->finish(id, "backup", RunOutcome{RunStatus::kFailed, 1500, 497, "", "disk full", "[info] x\n", false});
  const int64_t id2 = *store->claim(slot("backup", 2000)).value();
  store->finish(id2, "backup", RunOutcome{RunStatus::kSucceeded, 2500, 10, R"({"n":1})", "", "", false});
  store->flush();
  auto run = store->run(id).value();
  CHECK(run.status == RunStatus::kFailed);
  CHECK(run.error == "disk full");
  CHECK(run.duration_ms == 497);
  CHECK(run.lateness_ms == 3);
  CHECK(run.output == "[info] x\n");
  auto state = store->job_state("backup").value();
  CHECK(state.runs == 2);
  CHECK(state.successes == 1);
  CHECK(state.failures == 1);
  CHECK(state.last_status == "succeeded");
  auto runs = store->runs({.job = "backup", .status = std::nullopt, .before_id = std::nullopt, .limit = 10});
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].id == id2);  // newest first
  auto older = store->runs({.job = "backup", .status = std::nullopt, .before_id = id2, .limit = 10});
  REQUIRE(older.size() == 1);
  CHECK(older[0].id == id);
  CHECK(store->runs({.job = "", .status = RunStatus::kFailed, .before_id = std::nullopt, .limit = 10}).size() == 1);
}

STORE_CONTRACT_TEST("runs a dead host left running become interrupted", "[store]") {
  Backend backend;
  int64_t id = 0;
  {
    auto store = backend.open();
    id = *store->claim(slot("backup", 1000)).value();
  }
  auto store = backend.reopen();
  auto recovered = store->recover_unfinished(5000);
  if (store->shared()) {
    // Several hosts share it (PostgreSQL): the dead host's runs are the reaper's, after their
    // lease (pg_cluster_test.cpp); a starting host interrupts nothing.
    CHECK(recovered.empty());
    CHECK(store->run(id)->status != RunStatus::kInterrupted);
    return;
  }
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].id == id);
  CHECK(store->run(id)->status == RunStatus::kInterrupted);
  CHECK(store->run(id)->error == "the host stopped during the run");
  CHECK(store->recover_unfinished(6000).empty());
}

STORE_CONTRACT_TEST("record_fire keeps the latest slot", "[store]") {
  Backend backend;
  auto store = backend.open();
  store->record_fire("j", 2000, 3000);
  store->record_fire("j", 1000, 2000);  // an older slot (a late catch-up) does not move it back
  store->flush();
  CHECK(store->job_state("j")->last_slot == 2000);
}

STORE_CONTRACT_TEST("last_slots gives each fired job's last slot and leaves out jobs never fired", "[store]") {
  Backend backend;
  {
    auto store = backend.open();
    CHECK(store->last_slots().empty());
    store->record_fire("b", 2000, 3000);
    store->record_fire("b", 4000, std::nullopt);
    store->record_fire("a", 1000, std::nullopt);
    REQUIRE(store->set_enabled_override("paused-never-fired", false));  // a state row, no slot
    const int64_t id = *store->claim(slot("ran-by-hand", 5000)).value();
    store->finish(id, "ran-by-hand", RunOutcome{RunStatus::kSucceeded, 5100, 10, "", "", "", false});
    store->flush();
  }
  auto store = backend.reopen();
  auto fired = store->last_slots();
  std::sort(fired.begin(), fired.end(), [](const auto& x, const auto& y) { return x.job < y.job; });
  REQUIRE(fired.size() == 2);
  CHECK(fired[0].job == "a");
  CHECK(fired[0].slot == 1000);
  CHECK(fired[1].job == "b");
  CHECK(fired[1].slot == 4000);
}

STORE_CONTRACT_TEST("finished_job_states gives the states of the jobs that have finished a run", "[store]") {
  Backend backend;
  auto store = backend.open();
  store->record_fire("never-ran", 1000, 2000);
  REQUIRE(store->set_enabled_override("paused", false));
  const int64_t failed = *store->claim(slot("failed-once", 1000)).value();
  store->finish(failed, "failed-once", RunOutcome{RunStatus::kFailed, 1400, 10, "", "boom", "", false});
  const int64_t ok = *store->claim(slot("ran", 2000)).value();
  store->finish(ok, "ran", RunOutcome{RunStatus::kSucceeded, 2500, 10, "", "", "", false});
  store->flush();
  const auto states = store->finished_job_states();
  REQUIRE(states.size() == 2);  // by job
  CHECK(states[0].job == "failed-once");
  CHECK(states[0].last_status == "failed");
  CHECK(states[0].last_finished_at == 1400);
  CHECK(states[1].job == "ran");
  CHECK(states[1].successes == 1);
  CHECK(states[1].last_finished_at == 2500);
  CHECK(store->job_states().size() == 4);  // with never-ran and paused
}

STORE_CONTRACT_TEST("job_overrides gives only the overridden jobs, with their overrides", "[store]") {
  Backend backend;
  auto store = backend.open();
  CHECK(store->job_overrides().value().empty());
  store->record_fire("plain", 1000, 2000);
  REQUIRE(store->set_enabled_override("paused", false));
  REQUIRE(store->set_schedule_override("moved", R"({"cron":"0 3 * * *"})"));
  REQUIRE(store->set_enabled_override("back-to-definition", true));
  REQUIRE(store->set_enabled_override("back-to-definition", std::nullopt));
  store->flush();
  auto overrides = store->job_overrides().value();
  REQUIRE(overrides.size() == 2);
  std::sort(overrides.begin(), overrides.end(), [](const auto& x, const auto& y) { return x.job < y.job; });
  CHECK(overrides[0].job == "moved");
  CHECK_FALSE(overrides[0].enabled_override);
  CHECK(overrides[0].schedule_override == R"({"cron":"0 3 * * *"})");
  CHECK(overrides[1].job == "paused");
  CHECK(overrides[1].enabled_override == std::optional<bool>(false));
  CHECK(overrides[1].schedule_override.empty());
}

STORE_CONTRACT_TEST("key-value store", "[store]") {
  Backend backend;
  {
    auto store = backend.open();
    CHECK(store->kv_put("j", "k", "1", 0));
    CHECK(*store->kv_get("j", "k").value() == "1");
    CHECK_FALSE(store->kv_get("other", "k").value());
    CHECK(store->kv_put("j", "k", "2", 5));  // replaces
    CHECK(*store->kv_get("j", "k").value() == "2");
  }
  auto store = backend.reopen();
  CHECK(*store->kv_get("j", "k").value() == "2");
  CHECK(backend.scalar("SELECT count(*) FROM kv") == 1);
  CHECK(store->kv_delete("j", "k"));
  CHECK_FALSE(store->kv_get("j", "k").value());
}

TEST_CASE("key-value store and scratch copies", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  {
    auto store = Store::open(path).value();
    CHECK(store->kv_put("j", "k", "1", 0));
  }
  auto scratch = Store::open_scratch_copy(path).value();
  CHECK(*scratch->kv_get("j", "k").value() == "1");
  CHECK(scratch->kv_put("j", "k", "2", 0));
  scratch.reset();
  auto store = Store::open(path).value();
  CHECK(*store->kv_get("j", "k").value() == "1");  // the copy changed nothing
}

STORE_CONTRACT_TEST("prune keeps the history within its limits", "[store]") {
  Backend backend;
  auto store = backend.open();
  const int64_t day = 86'400'000;
  for (int i = 0; i < 10; ++i) {
    const int64_t id = *store->claim(slot("j", i * day)).value();
    store->finish(id, "j", RunOutcome{RunStatus::kSucceeded, i * day, 1, "", "", "", false});
  }
  const int64_t running = *store->claim(slot("j", 100 * day)).value();
  store->flush();
  CHECK(store->prune({.keep_days = 5, .keep_per_job = 0}, 10 * day) == 5);   // finished before day 5
  CHECK(store->prune({.keep_days = 0, .keep_per_job = 3}, 10 * day) == 3);   // keep the 3 newest (one is running)
  CHECK(store->run(running));
  CHECK(store->runs({.job = "j", .status = std::nullopt, .before_id = std::nullopt, .limit = 100}).size() == 3);
}

STORE_CONTRACT_TEST("a prune of a long history lets claims through while it deletes", "[store]") {
  Backend backend;
  auto store = backend.open();
  // 40 jobs with 5,000 finished (skipped) runs each; the prune keeps 100 of each, and days
  // pass every job's runs but the last 1,000.
  constexpr int kJobs = 40, kRuns = 5000;
  for (int j = 0; j < kJobs; ++j) claim_finished_runs(*store, "job" + std::to_string(j), kRuns);
  const ClaimsDuringPrune during = claims_during_prune(*store, {.keep_days = 1, .keep_per_job = 100}, 86'400'000 + 4'000'000);
  CHECK(during.removed == kJobs * (kRuns - 100));
  CHECK(backend.scalar("SELECT count(*) FROM runs WHERE job <> 'other'") == kJobs * 100);
  INFO(during);
  CHECK(during.longest < during.took / 4);
}

STORE_CONTRACT_TEST("a prune told to stop ends after its step, and the next one goes on", "[store]") {
  Backend backend;
  auto store = backend.open();
  for (const char* job : {"a", "b", "c"}) claim_finished_runs(*store, job, 2500);
  int asked = 0;
  const int64_t first = store->prune({.keep_days = 0, .keep_per_job = 100}, 0, [&] { return ++asked <= 2; });
  CHECK(first == 1000);  // yes to the first job, yes to its first step, then no
  CHECK(store->prune({.keep_days = 0, .keep_per_job = 100}, 0) == 3 * 2400 - 1000);
  CHECK(backend.scalar("SELECT count(*) FROM runs") == 3 * 100);
}

STORE_CONTRACT_TEST("a prune whose step fails keeps the steps before it, the store goes on, and the next prune finishes",
                    "[store]") {
  Backend backend;
  auto store = backend.open();
  for (const char* job : {"a", "b", "c"}) claim_finished_runs(*store, job, 2500);
  // Deleting job b's runs fails, as a full disk or an I/O error would.
  if constexpr (std::is_same_v<Backend, test::SqliteBackend>) {
    backend.execute("CREATE TRIGGER refuse BEFORE DELETE ON runs WHEN old.job = 'b' BEGIN "
                    "SELECT RAISE(ABORT, 'disk I/O error'); END");
  } else {
    backend.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF old.job = 'b' THEN "
                    "RAISE EXCEPTION 'disk I/O error'; END IF; RETURN old; END $$; CREATE TRIGGER refuse BEFORE DELETE "
                    "ON runs FOR EACH ROW EXECUTE FUNCTION refuse()");
  }
  try {
    store->prune({.keep_days = 0, .keep_per_job = 100}, 0);  // SQLite throws, PostgreSQL logs
  } catch (const std::exception&) {
  }
  CHECK(backend.scalar("SELECT count(*) FROM runs WHERE job = 'a'") == 100);  // its steps committed
  CHECK(backend.scalar("SELECT count(*) FROM runs WHERE job = 'b'") == 2500);
  CHECK(store->claim(slot("d", 1000)).value());  // the store goes on
  backend.execute("DROP TRIGGER refuse" + std::string(std::is_same_v<Backend, test::SqliteBackend> ? "" : " ON runs"));
  store->prune({.keep_days = 0, .keep_per_job = 100}, 0);
  CHECK(backend.scalar("SELECT count(*) FROM runs WHERE job IN ('a', 'b', 'c')") == 3 * 100);
}

STORE_CONTRACT_TEST("a prune of a long notification history lets claims through while it deletes", "[store][notify]") {
  Backend backend;
  auto store = backend.open();
  // 40 jobs with 3,000 notifications each, one a millisecond; the prune keeps 100 of each.
  backend.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 119999) "
                  "INSERT INTO notifications (job, event, at, dedup_key) "
                  "SELECT 'job' || (i % 40), 'failed', i, 'k' || i FROM n");
  const ClaimsDuringPrune during = claims_during_prune(*store, {.keep_days = 0, .keep_per_job = 100}, 200'000);
  CHECK(backend.scalar("SELECT count(*) FROM notifications") == 40 * 100);
  INFO(during);
  CHECK(during.longest < during.took / 4);
}

STORE_CONTRACT_TEST("prune keeps notifications within the history's limits, and each job's newest of each event",
                    "[store][notify]") {
  Backend backend;
  auto store = backend.open();
  const int64_t day = 86'400'000;
  const auto add = [&](const std::string& job, const std::string& event, int64_t at) {
    REQUIRE(store->notification_add(NotificationRecord{.job = job, .event = event, .at = at, .suppressed = true,
                                                       .dedup_key = job + event + std::to_string(at)})
                .value());
  };
  for (int i = 0; i < 10; ++i) add("j", "failed", i * day);
  add("j", "recovered", 1 * day);  // old, but the job's only recovery: the notifier reads it
  add("k", "missed", 2 * day);     // another job's only one
  const auto events_of = [&](const std::string& job) {
    std::vector<int64_t> days;
    for (const auto& n : store->notifications({.job = job, .limit = 100}).value()) days.push_back(n.at / day);
    return days;
  };
  store->prune({.keep_days = 5, .keep_per_job = 0}, 10 * day);
  CHECK(events_of("j") == std::vector<int64_t>{9, 8, 7, 6, 5, 1});
  CHECK(events_of("k") == std::vector<int64_t>{2});
  store->prune({.keep_days = 0, .keep_per_job = 2}, 10 * day);
  CHECK(events_of("j") == std::vector<int64_t>{9, 8, 1});
  CHECK(events_of("k") == std::vector<int64_t>{2});
}

TEST_CASE("a run that finishes before its start is written has one update holding both", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto store = Store::open(path).value();
  const int64_t slow = store->claim(queued_slot("job", 1000)).value().value();
  const int64_t quick = store->claim(queued_slot("job", 2000)).value().value();
  // Each update of a run counted; another connection holds the write lock meanwhile, so the
  // database thread writes nothing until both the start and the finish of `quick` are asked.
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("PRAGMA busy_timeout = 5000");
  other.exec("CREATE TABLE run_updates (run INTEGER)");
  other.exec("CREATE TRIGGER count_run_updates AFTER UPDATE ON runs BEGIN INSERT INTO run_updates VALUES (new.id); END");
  store->mark_started(slow, 1100, 100);
  store->flush();  // its start is written before it finishes
  other.exec("BEGIN IMMEDIATE");
  store->mark_started(quick, 2007, 7);
  store->finish(quick, "job", RunOutcome{RunStatus::kSucceeded, 2010, 3, "", "", "", false});
  store->finish(slow, "job", RunOutcome{RunStatus::kFailed, 1200, 100, "", "boom", "", false});
  other.exec("COMMIT");
  store->flush();
  const auto updates = [&](int64_t run) {
    SQLite::Statement q(other, "SELECT count(*) FROM run_updates WHERE run = ?");
    q.bind(1, run);
    q.executeStep();
    return q.getColumn(0).getInt();
  };
  CHECK(updates(quick) == 1);
  CHECK(updates(slow) == 2);
  check_run(*store, quick, RunStatus::kSucceeded, 2007, 7, 2010);
  check_run(*store, slow, RunStatus::kFailed, 1100, 100, 1200);
}

TEST_CASE("a run's start in a commit that failed is written by the retry", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto store = Store::open(path).value();
  const int64_t id = store->claim(queued_slot("job", 1000)).value().value();
  // An update of a run rolls its whole commit back (RAISE(ROLLBACK)), as a full disk may,
  // until the test lets it through; the commit's writes are then retried.
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("PRAGMA busy_timeout = 5000");
  other.exec("CREATE TABLE refuse (updates INTEGER); INSERT INTO refuse VALUES (1)");
  other.exec("CREATE TRIGGER refuse_run_updates BEFORE UPDATE ON runs WHEN (SELECT updates FROM refuse) "
             "BEGIN SELECT RAISE(ROLLBACK, 'refused by the test'); END");
  store->mark_started(id, 1100, 100);
  store->flush();
  REQUIRE(store->write_health().retained == 1);  // the start, tried once and kept
  CHECK(store->run(id)->status == RunStatus::kQueued);
  other.exec("UPDATE refuse SET updates = 0");
  for (int i = 0; i < 200 && store->write_health().retained > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(store->write_health().retained == 0);
  CHECK(store->run(id)->status == RunStatus::kRunning);
  store->finish(id, "job", RunOutcome{RunStatus::kSucceeded, 1200, 100, "", "", "", false});
  store->flush();
  check_run(*store, id, RunStatus::kSucceeded, 1100, 100, 1200);
}

TEST_CASE("the WAL stays bounded under a steady stream of runs", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto store = Store::open(path).value();
  int64_t slot = 0;
  for (int batch = 0; batch < 200; ++batch) {
    std::vector<NewRun> claims;
    for (int i = 0; i < 100; ++i) claims.push_back(::slot("job" + std::to_string(i), ++slot * 1000));
    const auto ids = store->claim_batch(claims).value();
    for (const auto& id : ids)
      store->finish(id.id, "job", RunOutcome{RunStatus::kSucceeded, slot, 1, R"({"ok":true})", "", "line\n", false});
  }
  store->flush();
  // 20,000 runs write well over 100 MB of WAL frames; checkpoints must keep reusing the file.
  // It restarts at 32 MiB once the checkpointer has copied every frame; under a busy disk (a
  // build beside it) that took until 45-50 MiB with this loop writing as fast as it can.
  CHECK(std::filesystem::file_size(dir.path() / "state.db-wal") < (64u << 20));
  CHECK(store->runs({.job = "", .status = RunStatus::kSucceeded, .before_id = std::nullopt, .limit = 100000}).size() == 20000);
}

STORE_CONTRACT_TEST("a claim batch gives each run its own id or nothing, whatever the batch mixes", "[store]") {
  Backend backend;
  auto store = backend.open();
  // Slots of several jobs out of key order, one slot twice, manual runs sharing a key (allowed),
  // a skipped slot, odd text in a job name and an error, and the slots that record positions.
  NewRun b1 = slot("b", 1000), a1 = slot("a", 1000), a1_again = slot("a", 1000), a2 = slot("a", 2000);
  NewRun manual = slot("a", 1500, 1, Trigger::kManual), manual_twin = manual;
  manual.triggered_by = "alice";
  NewRun odd = slot("q\"u,o{t}e\\s \xC3\xA9", 1000);
  NewRun skipped = slot("c", 1000);
  skipped.status = RunStatus::kSkipped;
  skipped.error = "the previous run is still going, \"forbid\"";
  for (NewRun* r : {&a1, &a2, &skipped}) r->record_slot = true;
  a1.next_fire = 2000;
  a2.next_fire = 3000;
  const std::vector<NewRun> batch{b1, manual, a2, a1, a1_again, manual_twin, odd, skipped};
  const auto ids = store->claim_batch(batch).value();
  REQUIRE(ids.size() == batch.size());
  CHECK(ids[4].kind == ClaimResult::Kind::kAlreadyRan);  // the second (a, 1000) in the batch: the first took the slot
  std::set<int64_t> distinct;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i == 4) continue;
    INFO("run " << i);
    REQUIRE(ids[i].claimed());
    distinct.insert(ids[i].id);
    const auto row = store->run(ids[i].id);
    REQUIRE(row);
    CHECK(row->job == batch[i].job);
    CHECK(row->trigger == batch[i].trigger);
    CHECK(row->scheduled_for == batch[i].scheduled_for);
    CHECK(row->triggered_by == batch[i].triggered_by);
    CHECK(row->error == batch[i].error);
    CHECK(row->status == batch[i].status);
  }
  CHECK(distinct.size() == batch.size() - 1);
  // The job's position is the furthest slot recorded, and its next fire the last one's.
  CHECK(store->job_state("a")->last_slot == 2000);
  CHECK(store->job_state("a")->next_fire == 2000);  // a1 came after a2 in the batch
  CHECK(store->job_state("c")->last_status == "skipped");
  // Again: every slot is taken, the manual runs are new runs.
  const auto again = store->claim_batch(batch).value();
  for (size_t i : {0, 2, 3, 4, 6, 7}) CHECK(again[i].kind == ClaimResult::Kind::kAlreadyRan);
  CHECK(again[1].claimed());
  CHECK(again[5].claimed());
  CHECK(backend.scalar("SELECT count(*) FROM runs") == 9);
}

STORE_CONTRACT_TEST("claimed slots are read for many jobs at once, each from its own slot", "[store]") {
  Backend backend;
  auto store = backend.open();
  // a: three slots, a second attempt alone on its slot (not a claim of that slot) and a
  // manual run (not a slot); b: one slot, and a skipped one (skipped slots were claimed too).
  NewRun skipped = slot("b", 3000);
  skipped.status = RunStatus::kSkipped;
  const std::vector<NewRun> runs{slot("a", 1000), slot("a", 2000), slot("a", 3000), slot("a", 2200, 2),
                                 slot("a", 2500, 1, Trigger::kManual), slot("b", 1000), skipped,
                                 slot("q\"u,o{t}e", 4000)};
  REQUIRE(store->claim_batch(runs).value().size() == runs.size());
  const auto claimed = store->claimed_slots({{"a", 2000}, {"b", 1000}, {"c", 0}, {"q\"u,o{t}e", 1}}, 3000);
  CHECK(claimed == std::map<std::string, std::set<int64_t>>{
                       {"a", {2000, 3000}}, {"b", {1000, 3000}}});  // q's 4000 is past `to`; c has none
  CHECK(store->claimed_slots({{"q\"u,o{t}e", 1}}, 4000) ==
        std::map<std::string, std::set<int64_t>>{{"q\"u,o{t}e", {4000}}});
  CHECK(store->claimed_slots({}, 4000).empty());
}

STORE_CONTRACT_TEST("claimed slots are found behind a job's later runs and a clock stepped back", "[store]") {
  Backend backend;
  auto store = backend.open();
  // In this order, each claimed at its slot's time plus 3 ms unless said: a long history
  // before `from` (5000), slots after it with a manual run claimed by a clock stepped back
  // between them, a manual run, the catch-up of slot 4050, a retry of slot 5000, and last the
  // catch-up of slot 6000 claimed at 9000, behind newer slots. Another job's runs fall in between.
  std::vector<NewRun> runs;
  for (int64_t at = 0; at < 5000; at += 100) runs.push_back(slot("a", at));
  for (int64_t at : {5000, 7000}) runs.push_back(slot("a", at));
  NewRun stepped_back = slot("a", 100, 1, Trigger::kManual);
  stepped_back.started_at = 100;
  runs.push_back(stepped_back);
  runs.push_back(slot("a", 8000));
  for (int64_t at = 0; at < 9000; at += 50) runs.push_back(slot("b", at));
  runs.push_back(slot("a", 8500, 1, Trigger::kManual));
  NewRun old_catchup = slot("a", 4050, 1, Trigger::kCatchup);  // a slot before `from`, claimed after it
  old_catchup.started_at = 8550;
  runs.push_back(old_catchup);
  NewRun retry = slot("a", 5000, 2, Trigger::kRetry);
  retry.started_at = 8600;
  runs.push_back(retry);
  NewRun catchup = slot("a", 6000, 1, Trigger::kCatchup);
  catchup.started_at = 9000;
  runs.push_back(catchup);
  for (const NewRun& run : runs) REQUIRE(store->claim(run).value());  // one claim each: ids in this order
  CHECK(store->claimed_slots({{"a", 5000}}, 9000) ==
        std::map<std::string, std::set<int64_t>>{{"a", {5000, 6000, 7000, 8000}}});
  CHECK(store->claimed_slots({{"a", 4900}}, 7500) ==
        std::map<std::string, std::set<int64_t>>{{"a", {4900, 5000, 6000, 7000}}});
}
