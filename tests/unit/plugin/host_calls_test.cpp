// The C ABI's db_dump (1.2) through the host calls, by a plugin written against plugin.hpp
// (tests/plugins/db_dump.cpp), inline and in the runner process: a SQLite database and a
// PostgreSQL one (tests/support/dbserver.py) dumped into allow.files with the file as
// reported, the denials and misuse statuses, the ABI's version check, and an isolated Lua
// script's db.dump through the same call.
#include <catch2/catch.hpp>
#include <cstddef>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../support/db_server.hpp"
#include "../support/sqlite_file.hpp"
#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "plugin/host_api_table.hpp"
#include "plugin/plugin_run.hpp"
#include "plugin/shared_object.hpp"

using namespace cronhost;
using nlohmann::json;
using store::RunStatus;
namespace fs = std::filesystem;

namespace {

fs::path test_plugin(const std::string& name) { return fs::path(CRONHOST_TEST_PLUGINS) / ("lib" + name + ".so"); }

// A SQLite database "app" with two tables, a job that may dump it into backups/.
class DumpSite {
 public:
  DumpSite() {
    fs::create_directories(dir_.path() / "backups");
    test::make_sqlite_file(dir_.path() / "app.db",
                           "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
                           "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER);"
                           "INSERT INTO users(name) VALUES ('ada'), ('grace'), ('alan');");
    config::DatabaseSettings app;
    app.sqlite = dir_.path() / "app.db";
    host_.databases["app"] = app;
    host_.databases["other"] = app;
    job_.allow.db = {"app"};
    job_.allow.files = {dir_.path() / "backups"};
  }
  const fs::path& dir() const { return dir_.path(); }
  config::HostConfig& host() { return host_; }
  config::JobSpec& job() { return job_; }

  // The plugin's result: what db_dump answered.
  json dump(const std::string& db, const json& options, bool isolated) {
    job_.params = {{"db", db}, {"options", options}};
    run::RunContext ctx(job_, {}, nullptr, &host_);
    run::RunResult r;
    if (isolated) {
      r = plugin::run_isolated(ctx, test_plugin("db_dump"), {CRONHOST_PLUGIN_RUNNER, uint64_t{512} << 20});
    } else {
      auto loaded = plugin::LoadedPlugin::open(test_plugin("db_dump"));
      REQUIRE(loaded);
      r = plugin::run_inline(ctx, *loaded.value());
    }
    INFO(r.error);
    REQUIRE(r.status == RunStatus::kSucceeded);
    return json::parse(r.result_json);
  }

  run::RunResult run_lua(const std::string& source) {
    job_.lua_script = dir_.write("scripts/job.lua", "local DIR = '" + dir_.path().string() + "'\n" + source);
    run::RunContext ctx(job_, {}, nullptr, &host_);
    return plugin::run_lua_isolated(ctx, {CRONHOST_PLUGIN_RUNNER, uint64_t{512} << 20});
  }

 private:
  test::TempDir dir_;
  config::HostConfig host_;
  config::JobSpec job_{.name = "dump-job",
                       .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc()),
                       .timeout = std::chrono::seconds(30)};
};

// The dump as reported is the file on disk, and the plugin's own stat through the host agrees.
void check_dumped(const json& result, const fs::path& path) {
  INFO(result.dump());
  REQUIRE(result["status"] == CRONHOST_OK);
  CHECK(result["has_db_dump"] == true);
  const json& dump = result["dump"];
  CHECK(dump["path"] == path.string());
  REQUIRE(fs::exists(path));
  CHECK(dump["bytes"].get<uintmax_t>() == fs::file_size(path));
  CHECK(dump["bytes"].get<uintmax_t>() > 0);
  CHECK(result["stat"]["size"] == dump["bytes"]);
  CHECK(dump["duration_ms"].get<int64_t>() >= 0);
}

}  // namespace

TEST_CASE("the host table has db_dump (ABI 1.2) and storage (1.3), and CRONHOST_HOST_HAS tells older hosts' tables from it",
          "[plugin][db_dump]") {
  const cronhost_host_api_t& table = plugin::host_api_table();
  CHECK(table.abi_version == ((1u << 16) | 3u));
  CHECK(CRONHOST_HOST_HAS(&table, db_dump));
  CHECK(CRONHOST_HOST_HAS(&table, storage));
  CHECK(table.db_dump != nullptr);
  CHECK(table.storage != nullptr);
  cronhost_host_api_t older = table;  // what a 1.1 host hands over: the table up to time_left_ms
  older.struct_size = offsetof(cronhost_host_api_t, time_left_ms) + sizeof(older.time_left_ms);
  CHECK(CRONHOST_HOST_HAS(&older, time_left_ms));
  CHECK_FALSE(CRONHOST_HOST_HAS(&older, db_dump));
  older.struct_size = offsetof(cronhost_host_api_t, db_dump) + sizeof(older.db_dump);  // a 1.2 host
  CHECK(CRONHOST_HOST_HAS(&older, db_dump));
  CHECK_FALSE(CRONHOST_HOST_HAS(&older, storage));
}

TEST_CASE("a plugin's db_dump of a SQLite database, inline and isolated, writes the file it reports", "[plugin][db_dump]") {
  DumpSite site;
  const fs::path inline_path = site.dir() / "backups" / "inline.db.gz";
  const json inline_result = site.dump("app", {{"path", inline_path.string()}, {"gzip", true}}, false);
  check_dumped(inline_result, inline_path);
  CHECK(inline_result["dump"]["engine"] == "sqlite");
  CHECK(inline_result["dump"]["tables"] == 2);

  const fs::path isolated_path = site.dir() / "backups" / "isolated.db";
  const json isolated_result = site.dump("app", {{"path", isolated_path.string()}}, true);
  check_dumped(isolated_result, isolated_path);
  CHECK(isolated_result["dump"]["tables"] == 2);
}

TEST_CASE("a plugin's db_dump is denied outside allow.db and allow.files, and misuse is EINVAL", "[plugin][db_dump]") {
  DumpSite site;
  const std::string inside = (site.dir() / "backups" / "x.db").string();
  for (const bool isolated : {false, true}) {
    INFO("isolated " << isolated);
    const json other_db = site.dump("other", {{"path", inside}}, isolated);
    CHECK(other_db["status"] == CRONHOST_EDENIED);
    CHECK_THAT(other_db["error"].get<std::string>(), Catch::Contains("(allow.db)"));

    const json outside = site.dump("app", {{"path", (site.dir() / "x.db").string()}}, isolated);
    CHECK(outside["status"] == CRONHOST_EDENIED);
    CHECK_THAT(outside["error"].get<std::string>(), Catch::Contains("(allow.files)"));

    const json format = site.dump("app", {{"path", inside}, {"format", "zip"}}, isolated);
    CHECK(format["status"] == CRONHOST_EINVAL);
    CHECK(format["error"] == "db.dump: field 'format' must be 'plain' or 'custom' (got 'zip')");

    const json no_path = site.dump("app", json::object(), isolated);
    CHECK(no_path["status"] == CRONHOST_EINVAL);
    CHECK(no_path["error"] == "db.dump: field 'path' is required");

    const json unknown = site.dump("app", {{"path", inside}, {"gzpi", true}}, isolated);
    CHECK(unknown["status"] == CRONHOST_EINVAL);
    CHECK(unknown["error"] == "db.dump: unknown field 'gzpi', did you mean 'gzip'?");
  }
  CHECK(fs::is_empty(site.dir() / "backups"));
}

TEST_CASE("a plugin's db_dump of a PostgreSQL database runs pg_dump into allow.files", "[plugin][db_dump][postgres]") {
  DumpSite site;
  const auto& server = test::DbServer::shared(test::DbKind::postgres).info();
  config::DatabaseSettings pg;
  pg.engine = config::DbEngine::kPostgresql;
  pg.url = server.url;
  pg.password = server.password;
  pg.tls.mode = "disable";
  site.host().databases["pg"] = pg;
  site.host().secrets.push_back(server.password);
  site.job().allow.db = {"pg"};
  const fs::path path = site.dir() / "backups" / "pg.sql";
  const json result = site.dump("pg", {{"path", path.string()}, {"format", "plain"}}, false);
  check_dumped(result, path);
  CHECK(result["dump"]["engine"] == "postgresql");
  CHECK(result["dump"]["tables"].is_number_integer());
}

#if !defined(__SANITIZE_ADDRESS__)  // the runner's address-space limit and ASan's shadow memory do not mix
TEST_CASE("an isolated Lua script's db.dump reaches the host's dump, denials raising as inline", "[plugin][db_dump][lua]") {
  DumpSite site;
  const run::RunResult r = site.run_lua(R"lua(
    local d = assert(db.dump("app", {path = DIR .. "/backups/lua.db.gz", gzip = true}))
    assert(d.engine == "sqlite" and d.tables == 2, json.encode(d))
    local ok, err = pcall(db.dump, "other", {path = DIR .. "/backups/other.db"})
    assert(not ok and err:find("(allow.db)", 1, true), err)
    return {path = d.path, bytes = d.bytes}
  )lua");
  INFO(r.error);
  REQUIRE(r.status == RunStatus::kSucceeded);
  const json result = json::parse(r.result_json);
  const fs::path path = site.dir() / "backups" / "lua.db.gz";
  CHECK(result["path"] == path.string());
  REQUIRE(fs::exists(path));
  CHECK(result["bytes"].get<uintmax_t>() == fs::file_size(path));
  CHECK_FALSE(fs::exists(site.dir() / "backups" / "other.db"));
}
#endif
