// Plugins run by the host: the ABI checks at load, inline runs through the capability bridge
// (state, files, denials, results, errors, deadlines), and isolated runs in the runner.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "plugin/pids_cgroup.hpp"
#include "plugin/plugin_catalog.hpp"
#include "plugin/plugin_run.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using store::RunStatus;
namespace fs = std::filesystem;

namespace {

fs::path test_plugin(const std::string& name) { return fs::path(CRONHOST_TEST_PLUGINS) / ("lib" + name + ".so"); }

struct Outcome {
  RunStatus status;
  std::string error;
  std::string result;
  std::string output;
};

class Site {
 public:
  Site() {
    job_.allow.files = {dir_.path() / "data"};
    fs::create_directories(dir_.path() / "data");
  }
  config::JobSpec& job() { return job_; }
  const fs::path& dir() const { return dir_.path(); }

  Outcome run_inline(const std::string& name) {
    auto loaded = plugin::LoadedPlugin::open(test_plugin(name));
    REQUIRE(loaded);
    run::RunContext ctx(job_, {}, store_.get());
    const run::RunResult r = plugin::run_inline(ctx, *loaded.value());
    commit_state(ctx);
    return {r.status, r.error, r.result_json, ctx.output.text()};
  }

  Outcome run_isolated(const std::string& name) {
    run::RunContext ctx(job_, {}, store_.get());
    const run::RunResult r = plugin::run_isolated(ctx, test_plugin(name), {CRONHOST_PLUGIN_RUNNER, uint64_t{512} << 20});
    commit_state(ctx);
    return {r.status, r.error, r.result_json, ctx.output.text()};
  }

 private:
  // The state writes commit with the run, as the scheduler's finish does.
  void commit_state(run::RunContext& ctx) {
    for (const auto& write : ctx.kv.take_writes())
      (void)(write.value_json ? store_->kv_put(job_.name, write.key, *write.value_json, 0)
                              : store_->kv_delete(job_.name, write.key));
  }

  test::TempDir dir_;
  std::unique_ptr<store::Store> store_ = store::Store::open(dir_.path() / "state.db").value();
  config::JobSpec job_{.name = "plugin-job",
                       .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc()),
                       .timeout = std::chrono::seconds(10)};
};

}  // namespace

TEST_CASE("loading refuses what is not a plugin of this ABI, naming both versions") {
  auto no_entry = plugin::LoadedPlugin::open(test_plugin("no_entry"));
  REQUIRE_FALSE(no_entry);
  CHECK(no_entry.message() == "not a cronhost plugin: it does not export cronhost_plugin_v1");
  auto wrong = plugin::LoadedPlugin::open(test_plugin("wrong_abi"));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.message() ==
        "the plugin was built for ABI 2.0 and this host speaks ABI 1.3; rebuild it against cronhost/plugin.h 1.x");
  auto small = plugin::LoadedPlugin::open(test_plugin("small_struct"));
  REQUIRE_FALSE(small);
  CHECK_THAT(small.message(), Catch::Contains("struct_size 8 is too small"));
  auto missing = plugin::LoadedPlugin::open("/nonexistent/libx.so");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.message(), Catch::StartsWith("cannot load: "));
}

TEST_CASE("a plugin built against ABI 1.0 loads and runs, the fields it lacks read as absent") {
  auto old = plugin::LoadedPlugin::open(test_plugin("old_abi"));
  REQUIRE(old);
  CHECK(old.value()->info().abi_version == 0x00010000);
  CHECK(old.value()->info().description.empty());
  Site site;
  const Outcome r = site.run_inline("old_abi");
  INFO(r.error);
  REQUIRE(r.status == RunStatus::kSucceeded);
  const auto result = nlohmann::json::parse(r.result);
  CHECK(result["old_abi"] == true);
  CHECK(result["host_struct_size"] == sizeof(cronhost_host_api_t));
}

TEST_CASE("inline runs: results, C++ exceptions, refused results and cooperative deadlines") {
  Site site;
  Outcome v = site.run_inline("versioned_v1");
  CHECK(v.status == RunStatus::kSucceeded);
  CHECK(v.result == R"({"version":"1.0.0"})");
  CHECK(v.output == "[info] versioned 1.0.0\n");

  Outcome thrown = site.run_inline("throws");
  CHECK(thrown.status == RunStatus::kFailed);
  CHECK(thrown.error == "boom from C++");

  Outcome bad = site.run_inline("bad_result");
  CHECK(bad.status == RunStatus::kFailed);
  CHECK_THAT(bad.error, Catch::Contains("set_result: the result is not JSON"));

  site.job().timeout = std::chrono::milliseconds(200);
  Outcome stopped = site.run_inline("stopper");
  CHECK(stopped.status == RunStatus::kTimedOut);
  CHECK(stopped.error == "timed out after 200ms");
}

TEST_CASE("inline runs reach the host through allow: like scripts do") {
  Site site;
  Outcome denied = site.run_inline("not_granted");
  CHECK(denied.status == RunStatus::kFailed);
  CHECK_THAT(denied.error, Catch::Contains("is not allowed for job plugin-job (allow.http)"));

  // capabilities: state and files only (no url, db or mail given).
  site.job().params = {{"folder", (site.dir() / "data").string()}};
  for (int expected_runs = 1; expected_runs <= 2; ++expected_runs) {
    Outcome r = site.run_inline("capabilities");
    INFO(r.error);
    REQUIRE(r.status == RunStatus::kSucceeded);
    const auto result = nlohmann::json::parse(r.result);
    CHECK(result["runs"] == expected_runs);
    CHECK(result["files"]["content"] == "written by capabilities");
  }
  site.job().params = {{"folder", site.dir().string()}};  // outside allow.files
  Outcome outside = site.run_inline("capabilities");
  CHECK(outside.status == RunStatus::kFailed);
  CHECK_THAT(outside.error, Catch::Contains("(allow.files)"));
}

#if !defined(__SANITIZE_ADDRESS__)  // the runner's address-space limit and ASan's shadow memory do not mix
TEST_CASE("isolated runs: crashes and exits are the run's failure, calls work as inline") {
  Site site;
  CHECK_THAT(site.run_isolated("crash_null").error, Catch::Contains("SIGSEGV"));
  CHECK(site.run_isolated("exit_run").error == "the plugin exited with status 3 before its run returned");
  Outcome fork = site.run_isolated("fork_bomb");
  CHECK(fork.error == "fork: Operation not permitted");

  site.job().params = {{"folder", (site.dir() / "data").string()}};
  Outcome r = site.run_isolated("capabilities");
  INFO(r.error);
  REQUIRE(r.status == RunStatus::kSucceeded);
  CHECK(nlohmann::json::parse(r.result)["files"]["content"] == "written by capabilities");

  site.job().timeout = std::chrono::milliseconds(300);
  CHECK(site.run_isolated("spin").status == RunStatus::kTimedOut);
}

TEST_CASE("an isolated plugin cannot steer the host, open sockets, write files or see its secrets and descriptors") {
  Site site;
  ::setenv("CRONHOST_TEST_SECRET", "hunter2", 1);
  const int leaked = ::open("/dev/null", O_RDONLY);  // without O_CLOEXEC, as some libraries do
  Outcome r = site.run_isolated("probe_sandbox");
  ::close(leaked);
  ::unsetenv("CRONHOST_TEST_SECRET");
  INFO(r.error);
  REQUIRE(r.status == RunStatus::kSucceeded);
  const auto result = nlohmann::json::parse(r.result);
  CHECK(result["prlimit_parent"] == EPERM);
  CHECK(result["setpriority"] == EPERM);
  CHECK(result["fcntl_setown"] == EPERM);
  CHECK(result["pdeathsig"] == EPERM);
  CHECK(result["socket"] == EPERM);
  CHECK(result["io_uring"] == EPERM);
  CHECK(result["open_write"] == EACCES);
  CHECK(result["fork"] == EPERM);
  CHECK(result["env_secret"] == false);
  CHECK(result["open_fds"] == 0);
}
TEST_CASE("an isolated plugin makes no System V IPC objects and starts threads only up to the cap") {
  Site site;
  Outcome ipc = site.run_isolated("sysv_ipc");
  INFO(ipc.error);
  REQUIRE(ipc.status == RunStatus::kSucceeded);
  const auto made = nlohmann::json::parse(ipc.result);
  CHECK(made["shmget"] == EPERM);
  CHECK(made["segments"] == 0);
  CHECK(made["msgget"] == EPERM);
  CHECK(made["semget"] == EPERM);

  Outcome threads = site.run_isolated("thread_bomb");
  INFO(threads.error);
  REQUIRE(threads.status == RunStatus::kSucceeded);
  const auto started = nlohmann::json::parse(threads.result);
  if (!plugin::pids_cgroup_base()) {
    WARN("threads are not capped here: " << plugin::pids_cgroup_problem());
    CHECK(started["started"] == 2000);  // the plugin's own bound: nothing stopped it
  } else {
    CHECK(started["started"] == plugin::kMaxRunTasks - 1);  // the main thread counts too
    CHECK(started["error"] == EAGAIN);
  }
}
#endif
