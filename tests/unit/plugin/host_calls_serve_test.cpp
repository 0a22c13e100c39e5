// The host calls served in C++ (plugin/host_calls*) as a plugin's calls reach them, against a
// real SQLite file and scratch folder: statuses and messages of misuse, denials and failures,
// the files operations' answers, one connection per database for the run (a dry run's write
// seen by its later read, rolled back at the end), and ESTOP once the run is past its deadline.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "../support/sqlite_file.hpp"
#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "plugin/host_calls.hpp"

using namespace cronhost;
using nlohmann::json;
using plugin::Call;
using plugin::Op;
using plugin::Reply;
namespace fs = std::filesystem;

namespace {

class ServeSite {
 public:
  ServeSite() {
    fs::create_directories(dir_.path() / "data");
    test::make_sqlite_file(dir_.path() / "app.db", "CREATE TABLE t(x INTEGER, s TEXT)");
    config::DatabaseSettings app;
    app.sqlite = dir_.path() / "app.db";
    host_.databases["app"] = app;
    job_.allow.db = {"app"};
    job_.allow.files = {dir_.path() / "data"};
    job_.allow.registry = {"ghcr.io/acme/*"};
  }
  const fs::path& dir() const { return dir_.path(); }
  config::JobSpec& job() { return job_; }

  // A fresh run in `mode`; the calls are served by one HostCalls, as for one plugin run.
  template <typename F>
  void run(api::EffectMode mode, F&& body) {
    run::RunContext ctx(job_, {}, nullptr, &host_, mode);
    plugin::HostCalls calls(ctx);
    body([&calls](Op op, std::string a, std::string b = {}, std::string c = {}) {
      return calls.serve(Call{op, std::move(a), std::move(b), std::move(c)});
    });
  }

  int64_t rows() const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir_.path() / "app.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, nullptr);
    sqlite3_step(st);
    const int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

 private:
  test::TempDir dir_;
  config::HostConfig host_;
  config::JobSpec job_{.name = "serve-job",
                       .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc()),
                       .timeout = std::chrono::seconds(10)};
};

void check_reply(const Reply& reply, int status, const std::string& contains) {
  INFO(reply.payload);
  CHECK(reply.status == status);
  CHECK_THAT(reply.payload, Catch::Contains(contains));
}

}  // namespace

TEST_CASE("host calls: files answer as the Lua API's, misuse is EINVAL, a way out EDENIED", "[plugin][host_calls]") {
  ServeSite site;
  const std::string data = (site.dir() / "data").string();
  site.run(api::EffectMode::kLive, [&](auto serve) {
    const Reply written = serve(Op::kFiles, "write", json{{"path", data + "/a.txt"}, {"content", "hello"}}.dump());
    CHECK(written.status == CRONHOST_OK);
    CHECK(written.payload == "5");
    CHECK(serve(Op::kFiles, "read", json{{"path", data + "/a.txt"}}.dump()).payload == "hello");
    const json listed = json::parse(serve(Op::kFiles, "list", json{{"path", data}}.dump()).payload);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["name"] == "a.txt");
    CHECK(listed[0]["size"] == 5);
    const json gz = json::parse(serve(Op::kFiles, "gzip", json{{"path", data + "/a.txt"}, {"remove_source", true}}.dump()).payload);
    CHECK(gz["path"] == data + "/a.txt.gz");
    CHECK(gz["source_bytes"] == 5);
    CHECK(fs::exists(data + "/a.txt.gz"));
    CHECK_FALSE(fs::exists(data + "/a.txt"));
    CHECK(serve(Op::kFiles, "prune", json{{"path", data}, {"keep", 0}}.dump()).payload == json::array({data + "/a.txt.gz"}).dump());
    CHECK(serve(Op::kFiles, "list", json{{"path", data}}.dump()).payload == "[]");

    check_reply(serve(Op::kFiles, "read", json{{"path", data + "/none"}}.dump()), CRONHOST_EFAILED,
                "files.read: " + data + "/none: no such file");
    check_reply(serve(Op::kFiles, "read", json{{"path", site.dir().string() + "/app.db"}}.dump()), CRONHOST_EDENIED,
                "(allow.files)");
    check_reply(serve(Op::kFiles, "move", "{}"), CRONHOST_EINVAL,
                "files: unknown operation 'move' (one of gzip, list, prune, read, remove, stat, write)");
    check_reply(serve(Op::kFiles, "prune", json{{"path", data}}.dump()), CRONHOST_EINVAL,
                "files.prune: give older_than, keep or both");
    check_reply(serve(Op::kFiles, "write", json{{"path", 3}}.dump()), CRONHOST_EINVAL,
                "files.write: field 'path' must be a string (got number)");
    check_reply(serve(Op::kFiles, "list", "{not json"), CRONHOST_EINVAL, "files: the arguments is not JSON");
  });
}

TEST_CASE("host calls: state, registry, approvals and http statuses", "[plugin][host_calls]") {
  ServeSite site;
  site.run(api::EffectMode::kLive, [&](auto serve) {
    CHECK(serve(Op::kStateGet, "k").payload == "null");
    CHECK(serve(Op::kStatePut, "k", R"({"n": [1, 2]})").status == CRONHOST_OK);
    CHECK(serve(Op::kStateGet, "k").payload == R"({"n":[1,2]})");
    check_reply(serve(Op::kStatePut, "k", ""), CRONHOST_EINVAL, "state_put: the value is empty");
    check_reply(serve(Op::kStatePut, "k", "{oops"), CRONHOST_EINVAL, "state_put: the value is not JSON");
    check_reply(serve(Op::kStateGet, ""), CRONHOST_EINVAL, "state_get: ");

    check_reply(serve(Op::kRegistryTags, "docker.io/evil/app"), CRONHOST_EDENIED, "(allow.registry)");
    check_reply(serve(Op::kRegistryLatest, "ghcr.io/acme/app", R"({"constraint": ">=1.2.q"})"), CRONHOST_EINVAL,
                "registry.latest: ");
    check_reply(serve(Op::kRegistryLatest, "ghcr.io/acme/app", R"({"prerelase": true})"), CRONHOST_EINVAL,
                "registry.latest: unknown field 'prerelase', did you mean 'prerelease'?");

    check_reply(serve(Op::kApprovals, "get", R"({"id": 1})"), CRONHOST_EINVAL, "approvals.get: this run has no state file");
    check_reply(serve(Op::kApprovals, "request", R"({"kind": "k"})"), CRONHOST_EINVAL,
                "approvals.request: field 'key' is required");
    check_reply(serve(Op::kApprovals, "vote", "{}"), CRONHOST_EINVAL, "approvals: unknown operation 'vote'");

    check_reply(serve(Op::kHttp, R"({"url": "http://127.0.0.1:9/"})"), CRONHOST_EDENIED, "(allow.http)");
    check_reply(serve(Op::kHttp, R"({"url": "http://127.0.0.1:9/", "method": "FETCH"})"), CRONHOST_EINVAL,
                "http.request: method 'FETCH' is not one of");
    check_reply(serve(Op::kMail, R"({"to": "a@b.test"})"), CRONHOST_EINVAL, "mail.send: ");
    check_reply(serve(Op::kLuaCall, "state.get", "{}"), CRONHOST_EINVAL, "lua_call is not a host capability");
  });
}

TEST_CASE("host calls: one connection per database for the run, a dry run's writes seen then rolled back", "[plugin][host_calls][db]") {
  ServeSite site;
  site.run(api::EffectMode::kDryRun, [&](auto serve) {
    CHECK(serve(Op::kDbExec, "app", "INSERT INTO t(x, s) VALUES (?, ?)", R"([7, "seven"])").payload == "1");
    const Reply rows = serve(Op::kDbQuery, "app", "SELECT x, s FROM t", "");
    CHECK(rows.status == CRONHOST_OK);
    CHECK(rows.payload == R"([{"s":"seven","x":7}])");
    check_reply(serve(Op::kDbQuery, "app", "SELECT nope FROM t", "[]"), CRONHOST_EFAILED, "no such column");
    check_reply(serve(Op::kDbQuery, "app", "SELECT ?", R"([[1]])"), CRONHOST_EINVAL,
                "conn:query: value 1 must be nil, a boolean, a number or a string (got table)");
    check_reply(serve(Op::kDbQuery, "other", "SELECT 1", ""), CRONHOST_EDENIED, "(allow.db)");
  });
  CHECK(site.rows() == 0);
  site.run(api::EffectMode::kLive, [&](auto serve) {
    CHECK(serve(Op::kDbExec, "app", "INSERT INTO t(x) VALUES (1)", "").payload == "1");
  });
  CHECK(site.rows() == 1);
}

TEST_CASE("host calls: past the run's deadline every call is ESTOP with the run's stop message", "[plugin][host_calls]") {
  ServeSite site;
  site.job().timeout = std::chrono::milliseconds(0);
  site.run(api::EffectMode::kLive, [&](auto serve) {
    check_reply(serve(Op::kFiles, "list", json{{"path", (site.dir() / "data").string()}}.dump()), CRONHOST_ESTOP, "timed out after");
    check_reply(serve(Op::kStateGet, "k"), CRONHOST_ESTOP, "timed out after");
  });
}
