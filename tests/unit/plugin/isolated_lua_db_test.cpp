// An isolated Lua script's db calls (client.lua's conn methods), which travel as the plugin
// ABI's db_query, db_exec and db_backup, against a SQLite file: they answer as inline.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../support/sqlite_file.hpp"
#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "plugin/plugin_run.hpp"

using namespace cronhost;
using nlohmann::json;
using store::RunStatus;
namespace fs = std::filesystem;

namespace {

// A SQLite database "app" with three users, a job that may use it and write into backups/.
class DumpSite {
 public:
  DumpSite() {
    fs::create_directories(dir_.path() / "backups");
    test::make_sqlite_file(dir_.path() / "app.db",
                           "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
                           "INSERT INTO users(name) VALUES ('ada'), ('grace'), ('alan');");
    config::DatabaseSettings app;
    app.sqlite = dir_.path() / "app.db";
    host_.databases["app"] = app;
    job_.allow.db = {"app"};
    job_.allow.files = {dir_.path() / "backups"};
  }
  const fs::path& dir() const { return dir_.path(); }

  run::RunResult run_lua(const std::string& source) {
    job_.lua_script = dir_.write("scripts/job.lua", "local DIR = '" + dir_.path().string() + "'\n" + source);
    run::RunContext ctx(job_, {}, nullptr, &host_);
    return plugin::run_lua_isolated(ctx, {CRONHOST_PLUGIN_RUNNER, uint64_t{512} << 20});
  }

 private:
  test::TempDir dir_;
  config::HostConfig host_;
  config::JobSpec job_{.name = "db-job",
                       .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc()),
                       .timeout = std::chrono::seconds(30)};
};

}  // namespace

#if !defined(__SANITIZE_ADDRESS__)  // the runner's address-space limit and ASan's shadow memory do not mix
TEST_CASE("an isolated Lua script's conn:query, conn:exec and conn:backup answer as inline", "[plugin][db][lua]") {
  DumpSite site;
  const run::RunResult r = site.run_lua(R"lua(
    local conn = assert(db.open("app"))
    local rows = assert(conn:query("SELECT name FROM users WHERE id > ? ORDER BY id", 1))
    assert(#rows == 2 and rows[1].name == "grace" and rows[2].name == "alan", json.encode(rows))
    local changed = assert(conn:exec("UPDATE users SET name = ? WHERE id = ?", "ada l.", 1))
    assert(changed == 1, tostring(changed))
    local copy = assert(conn:backup(DIR .. "/backups/copy.db"))
    assert(copy.bytes > 0 and copy.pages > 0, json.encode(copy))
    local none, err = conn:query("SELECT nope FROM users")
    assert(none == nil and err:find("no such column", 1, true), tostring(err))
    return {first = conn:query("SELECT name FROM users WHERE id = 1")[1].name, bytes = copy.bytes}
  )lua");
  INFO(r.error);
  REQUIRE(r.status == RunStatus::kSucceeded);
  const json result = json::parse(r.result_json);
  CHECK(result["first"] == "ada l.");
  CHECK(result["bytes"].get<uintmax_t>() == fs::file_size(site.dir() / "backups" / "copy.db"));
}

#endif
