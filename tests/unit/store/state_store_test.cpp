// The state file: migrations, exactly-once slot claims, the host lock, crash recovery, the
// key-value store and pruning.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include "../support/temp_dir.hpp"
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

TEST_CASE("a slot is claimed once, even across reopen", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  int64_t first = 0;
  {
    auto store = Store::open(path).value();
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
  auto store = Store::open(path).value();
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

TEST_CASE("finish records the outcome and the job's counters", "[store]") {
  test::TempDir dir;
  auto store = Store::open(dir.path() / "state.db").value();
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

TEST_CASE("runs a dead host left running become interrupted", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  int64_t id = 0;
  {
    auto store = Store::open(path).value();
    id = *store->claim(slot("backup", 1000)).value();
  }
  auto store = Store::open(path).value();
  auto recovered = store->recover_unfinished(5000);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].id == id);
  CHECK(store->run(id)->status == RunStatus::kInterrupted);
  CHECK(store->run(id)->error == "the host stopped during the run");
  CHECK(store->recover_unfinished(6000).empty());
}

TEST_CASE("record_fire keeps the latest slot", "[store]") {
  test::TempDir dir;
  auto store = Store::open(dir.path() / "state.db").value();
  store->record_fire("j", 2000, 3000);
  store->record_fire("j", 1000, 2000);  // an older slot (a late catch-up) does not move it back
  store->flush();
  CHECK(store->job_state("j")->last_slot == 2000);
}

TEST_CASE("key-value store and scratch copies", "[store]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  {
    auto store = Store::open(path).value();
    CHECK(store->kv_put("j", "k", "1", 0));
    CHECK(*store->kv_get("j", "k").value() == "1");
    CHECK_FALSE(store->kv_get("other", "k").value());
  }
  auto scratch = Store::open_scratch_copy(path).value();
  CHECK(*scratch->kv_get("j", "k").value() == "1");
  CHECK(scratch->kv_put("j", "k", "2", 0));
  scratch.reset();
  auto store = Store::open(path).value();
  CHECK(*store->kv_get("j", "k").value() == "1");  // the copy changed nothing
  CHECK(store->kv_delete("j", "k"));
  CHECK_FALSE(store->kv_get("j", "k").value());
}

TEST_CASE("prune keeps the history within its limits", "[store]") {
  test::TempDir dir;
  auto store = Store::open(dir.path() / "state.db").value();
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
      store->finish(*id, "job", RunOutcome{RunStatus::kSucceeded, slot, 1, R"({"ok":true})", "", "line\n", false});
  }
  store->flush();
  // 20,000 runs write well over 100 MB of WAL frames; checkpoints must keep reusing the file.
  CHECK(std::filesystem::file_size(dir.path() / "state.db-wal") < (16u << 20));
  CHECK(store->runs({.job = "", .status = RunStatus::kSucceeded, .before_id = std::nullopt, .limit = 100000}).size() == 20000);
}
