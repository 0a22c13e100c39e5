// A table source's writeback against a real SQLite file: the run's facts and the row's value
// land in the app's columns; a statement the database refuses, or a database that is gone, is
// an error for the scheduler to log, never a crash.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include "../support/temp_dir.hpp"
#include "api/db_writeback.hpp"

using namespace cronhost;

namespace {

struct App {
  test::TempDir dir;
  config::HostConfig host;
  config::JobSpec job{.name = "workflow-7", .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::utc())};
  App() {
    const auto file = dir.path() / "app.db";
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE workflows (id INTEGER PRIMARY KEY, last_run_at TEXT, last_status TEXT, next_run_at TEXT, "
            "run_id INTEGER, took INTEGER)");
    db.exec("INSERT INTO workflows (id) VALUES (7), (8)");
    host.databases["app"] = config::DatabaseSettings{.sqlite = file};
  }
  void write_back(const std::string& sql, std::vector<config::WritebackArg> args) {
    job.writeback = config::Writeback{"app", sql, std::move(args)};
  }
  std::string row(int id) {
    SQLite::Database db((dir.path() / "app.db").string());
    SQLite::Statement q(db, "SELECT coalesce(last_run_at, '-') || ' ' || coalesce(last_status, '-') || ' ' || "
                            "coalesce(next_run_at, '-') || ' ' || coalesce(run_id, '-') || ' ' || coalesce(took, '-') "
                            "FROM workflows WHERE id = ?");
    q.bind(1, id);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }
};

// 2026-12-03T10:00:00Z and a run of 1.5 s.
constexpr int64_t kStart = 1'796'292'000'000;
const api::RunFacts kFacts{42, kStart, kStart + 1500, "succeeded", kStart + 60'000};

}  // namespace

TEST_CASE("writeback puts the run's facts and the row's value in the app's columns", "[api][writeback]") {
  App app;
  app.write_back("UPDATE workflows SET last_run_at = ?, last_status = ?, next_run_at = ?, run_id = ?, took = ? WHERE id = ?",
                 {{"run.started_at", nullptr}, {"run.status", nullptr}, {"job.next_fire", nullptr}, {"run.id", nullptr},
                  {"run.duration_ms", nullptr}, {"", 7}});
  REQUIRE(api::write_back(app.job, &app.host, kFacts, std::chrono::seconds(5)));
  CHECK(app.row(7) == "2026-12-03T10:00:00+00:00 succeeded 2026-12-03T10:01:00+00:00 42 1500");
  CHECK(app.row(8) == "- - - - -");  // only the row the job came from
  api::RunFacts last = kFacts;
  last.next_fire_ms.reset();  // a job that fires no more writes NULL
  REQUIRE(api::write_back(app.job, &app.host, last, std::chrono::seconds(5)));
  CHECK(app.row(7) == "2026-12-03T10:00:00+00:00 succeeded - 42 1500");
}

TEST_CASE("a writeback the database refuses, or a database gone, is an error naming it", "[api][writeback]") {
  App app;
  app.write_back("UPDATE no_such_table SET x = ?", {{"", 7}});
  auto refused = api::write_back(app.job, &app.host, kFacts, std::chrono::seconds(5));
  REQUIRE_FALSE(refused);
  CHECK(refused.message() == "db: app: no such table: no_such_table");
  app.write_back("UPDATE workflows SET took = ? WHERE id = 7; DELETE FROM workflows", {{"run.duration_ms", nullptr}});
  CHECK_FALSE(api::write_back(app.job, &app.host, kFacts, std::chrono::seconds(5)));
  CHECK(app.row(8) == "- - - - -");  // the glued-on DELETE never ran
  app.host.databases.clear();
  auto gone = api::write_back(app.job, &app.host, kFacts, std::chrono::seconds(5));
  REQUIRE_FALSE(gone);
  CHECK(gone.message() == "db.open: no database 'app' in the host config (databases:)");
}
