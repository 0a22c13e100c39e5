// db.dump as a script sees it, through the real sandbox against a real PostgreSQL server
// (tests/support/dbserver.py): the result table, nil, err when the tool fails, raises for
// misuse and denials. What the dump holds is api/db_dump_test's.
#include <catch2/catch.hpp>
#include <unistd.h>

#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "run/lua_runner.hpp"
#include "../support/db_server.hpp"

using namespace cronhost;
using store::RunStatus;

namespace {

struct Site {
  test::TempDir dir;
  config::HostConfig host;
  config::JobSpec job{.name = "dump-job", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};

  explicit Site(const std::string& password) {
    const auto& server = test::DbServer::shared(test::DbKind::postgres).info();
    config::DatabaseSettings settings;
    settings.engine = config::DbEngine::kPostgresql;
    settings.url = server.url;
    settings.password = password;
    settings.tls.mode = "disable";
    host.databases["app"] = settings;
    host.databases["other"] = settings;
    host.secrets.push_back(server.password);
    job.allow.db = {"app"};
    job.allow.files = {dir.path() / "backups"};
  }

  run::RunResult run(const std::string& source) {
    job.lua_script = dir.write("scripts/job.lua", "local DIR = '" + dir.path().string() + "'\n" + source);
    job.timeout = std::chrono::seconds(30);
    run::RunContext ctx(job, {}, nullptr, &host);
    return run::run_lua(ctx);
  }
};

}  // namespace

TEST_CASE("db.dump from Lua returns {path, bytes, duration_ms, tables, engine}, or nil, err when the tool fails",
          "[lua][db][db_dump]") {
  Site site(test::DbServer::shared(test::DbKind::postgres).info().password);
  auto ok = site.run(R"lua(
    local d = assert(db.dump("app", {path = DIR .. "/backups/app.sql.gz", format = "plain", gzip = true}))
    assert(d.path == DIR .. "/backups/app.sql.gz", d.path)
    assert(math.type(d.bytes) == "integer" and d.bytes > 0)
    assert(math.type(d.duration_ms) == "integer" and d.duration_ms >= 0)
    assert(math.type(d.tables) == "integer")
    assert(d.engine == "postgresql")
    local c = assert(db.dump("app", {path = DIR .. "/backups/app.dump", format = "custom"}))
    assert(c.tables == nil)
    return d.bytes
  )lua");
  INFO(ok.error);
  REQUIRE(ok.status == RunStatus::kSucceeded);
  CHECK(std::to_string(std::filesystem::file_size(site.dir.path() / "backups/app.sql.gz")) == ok.result_json);

  Site wrong("wrong-password-" + std::to_string(::getpid()));
  auto failed = wrong.run(R"lua(
    local d, err = db.dump("app", {path = DIR .. "/backups/app.sql"})
    assert(d == nil)
    return err
  )lua");
  INFO(failed.error);
  REQUIRE(failed.status == RunStatus::kSucceeded);
  CHECK_THAT(failed.result_json, Catch::Matchers::Contains("db: app: dump to") &&
                                     Catch::Matchers::Contains("pg_dump exited with status 1") &&
                                     Catch::Matchers::Contains("password authentication failed"));
}

TEST_CASE("db.dump from Lua raises for misuse and denials", "[lua][db][db_dump]") {
  Site site(test::DbServer::shared(test::DbKind::postgres).info().password);
  struct Case { const char* call; const char* error; };
  for (const Case& c : {
           Case{R"(db.dump("app"))", "db.dump"},
           Case{R"(db.dump("app", {path = DIR .. "/backups/a.sql", format = "tar"}))", "field 'format' must be 'plain' or 'custom'"},
           Case{R"(db.dump("app", {path = DIR .. "/backups/a.sql", gizp = true}))", "unknown field 'gizp'"},
           Case{R"(db.dump("app", {format = "plain"}))", "path"},
           Case{R"(db.dump("other", {path = DIR .. "/backups/a.sql"}))", "allow.db"},
           Case{R"(db.dump("app", {path = "/etc/a.sql"}))", "allow.files"},
       }) {
    auto r = site.run(std::string(c.call));
    INFO(c.call << " -> " << r.error);
    CHECK(r.status == RunStatus::kFailed);
    CHECK_THAT(r.error, Catch::Matchers::Contains(c.error));
  }
  CHECK_FALSE(std::filesystem::exists(site.dir.path() / "backups"));
}
