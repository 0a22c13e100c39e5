// job, sleep and require: what a script knows about its run, and the two ways it waits or
// reuses code.
//
//   log.info(job.name, " run ", job.run_id, " attempt ", job.attempt, " (", job.trigger, ")")
//   local image = job.params.image          -- read-only
//   local approval = job.event and job.event.payload   -- runs fired by `on:` events
//   if job.attempt == job.max_attempts then ... end     -- the last try: time to alert
//   local folder = job.allow.files[1]                   -- allow.files, as absolute paths
//   sleep(1.5)                              -- seconds; ends early with an error at the deadline
//   local util = require("util")            -- scripts/lib/util.lua, Lua source only
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "bindings/job_table.hpp"
#include "bindings/lua_require.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"
#include "util/duration.hpp"
#include "util/time_format.hpp"

namespace cronhost::bindings {
namespace {

int sleep_seconds(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const double seconds = luaL_checknumber(L, 1);
  if (!(seconds >= 0)) return luaL_argerror(L, 1, "seconds must be 0 or more");
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(
                         std::min(seconds, 365.0 * 86400)));
  // Short slices so a cancel or the deadline ends the sleep promptly.
  for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
    run::LuaSandbox::check_stop(L);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        {std::chrono::milliseconds(20), until - now, std::max(ctx.deadline - now, std::chrono::steady_clock::duration(0))}));
  }
  run::LuaSandbox::check_stop(L);
  return 0;
}

int require_module(lua_State* L) { return require_from(L, run::LuaSandbox::context(L).lib_dir()); }

}  // namespace

void open_job(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  push_readonly_json(L, job_json(ctx));
  lua_setglobal(L, "job");
}

void open_sleep_and_require(lua_State* L) {
  lua_pushcfunction(L, sleep_seconds);
  lua_setglobal(L, "sleep");
  open_require(L, require_module);
}

nlohmann::json job_json(const run::RunContext& ctx) {
  const auto scheduled = Instant(std::chrono::seconds(ctx.scheduled_for_ms / 1000));
  nlohmann::json job = {
      {"name", ctx.job.name},
      {"run_id", ctx.run_id},
      {"trigger", std::string(store::to_string(ctx.trigger))},
      {"scheduled_for", format_rfc3339(scheduled, ctx.job.schedule.zone().offset_at(ctx.scheduled_for_ms / 1000))},
      {"attempt", ctx.attempt},
      {"params", ctx.job.params},
  };
  if (ctx.event) job["event"] = *ctx.event;
  job["max_attempts"] = ctx.job.retries.attempts;  // the last attempt may send the alert
  nlohmann::json folders = nlohmann::json::array();
  for (const auto& folder : ctx.job.allow.files) folders.push_back(folder.string());
  job["allow"] = {{"files", folders}};  // resolved folders, so scripts need not repeat them
  return job;
}

}  // namespace cronhost::bindings
