// A run whose job table cannot be built (an event payload nested past the limit) fails as a
// run: before, the push happened outside a protected call and Lua's panic aborted the host.
// The table is built when the script first names `job`, so the error is the script's line.
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "run/lua_runner.hpp"

using namespace cronhost;

TEST_CASE("an event payload nested too deep fails the run, not the host", "[lua][sandbox]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return job.event.name\n");
  config::JobSpec job{.name = "on-approval",
                      .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
  job.lua_script = dir.path() / "scripts/job.lua";
  nlohmann::json payload = "deep";
  for (int i = 0; i < 99; ++i) payload = nlohmann::json{{"p", payload}};
  for (const int extra : {0, 1}) {
    run::RunContext ctx(job, {}, nullptr);
    nlohmann::json nested = payload;
    if (extra) nested = nlohmann::json{{"p", nested}};
    ctx.event = std::make_shared<const nlohmann::json>(nlohmann::json{{"name", "approval.approved"}, {"payload", nested}});
    const auto result = run::run_lua(ctx);
    CHECK(result.status == store::RunStatus::kFailed);
    CHECK(result.error.rfind("job.lua:1: JSON nested deeper than 100 levels\n", 0) == 0);
  }
  run::RunContext shallow(job, {}, nullptr);
  shallow.event = std::make_shared<const nlohmann::json>(nlohmann::json{{"name", "approval.approved"}, {"payload", {{"v", 1}}}});
  const auto ok = run::run_lua(shallow);
  CHECK(ok.status == store::RunStatus::kSucceeded);
  CHECK(ok.result_json == "\"approval.approved\"");
}
