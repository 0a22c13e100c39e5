// Test helper: runs a Lua source as a job's script, in the host's sandbox, against a scratch
// state store, and reports what the run recorded and what it wrote to the host log.
#pragma once
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "config/job_loader.hpp"
#include "run/lua_runner.hpp"
#include "store/state_store.hpp"

namespace cronhost::test {

struct ScriptRun {
  store::RunStatus status;
  std::string error;
  std::string result;
  std::string output;
  bool truncated;
  std::chrono::milliseconds took;
  std::vector<std::string> host_log;  // "level: text", as on_log received them
  size_t host_log_dropped = 0;
};

class Harness {
 public:
  Harness() : store_(store::Store::open_scratch_copy(dir_.path() / "none.db").value()) {
    dir_.write("scripts/lib/util.lua", "local M = {}\nfunction M.twice(x) return 2 * x end\nreturn M\n");
    dir_.write("scripts/lib/nested/mod.lua", "return {name = ...}\n");
  }

  ScriptRun run(const std::string& source, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                run::RunLimits limits = {}, nlohmann::json params = nlohmann::json::object()) {
    dir_.write("scripts/job.lua", source);
    config::JobSpec job{.name = "test-job", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
    job.lua_script = dir_.path() / "scripts/job.lua";
    job.timeout = timeout;
    job.params = std::move(params);
    ScriptRun out;
    run::RunContext ctx(job, limits, store_.get());  // modules from scripts/lib beside scripts/job.lua
    ctx.run_id = 42;
    ctx.scheduled_for_ms = 1795000000000;
    ctx.cancel = &cancel;
    ctx.on_log = [&out](std::string_view level, std::string_view text) {
      out.host_log.push_back(std::string(level) + ": " + std::string(text));
    };
    const auto start = std::chrono::steady_clock::now();
    const run::RunResult r = run::run_lua(ctx);
    // The state writes commit with the run, as the scheduler's finish does.
    for (const auto& write : ctx.kv.take_writes())
      (void)(write.value_json ? store_->kv_put(job.name, write.key, *write.value_json, 0) : store_->kv_delete(job.name, write.key));
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    out.status = r.status;
    out.error = r.error;
    out.result = r.result_json;
    out.output = ctx.output.text();
    out.truncated = ctx.output.truncated();
    out.host_log_dropped = ctx.host_log_dropped;
    return out;
  }

  std::atomic<run::CancelReason> cancel{run::CancelReason::kNone};

 private:
  TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace cronhost::test
