// Hostile Lua: scripts that tried to hold a worker past their deadline in C code the
// instruction hook never reaches (the pattern matcher, finalizers, stock C loops), flood the
// host log, or allocate outside the memory cap through a binding.
#include <catch2/catch.hpp>

#include "../support/lua_harness.hpp"

using namespace cronhost;
using store::RunStatus;
using test::Harness;

TEST_CASE("log lines past the run's cap stay out of the host log and are counted", "[lua][hostile]") {
  Harness h;
  auto r = h.run("for i = 1, 5000 do log.info('line ', i) end");
  CHECK(r.status == RunStatus::kSucceeded);
  REQUIRE(r.host_log.size() == 1001);
  CHECK(r.host_log[999] == "info: line 1000");
  CHECK(r.host_log[1000] ==
        "warn: the run reached its host log cap (1000 lines or 256 KiB); its further log lines are only in its output, "
        "and counted");
  CHECK(r.host_log_dropped == 4000);
  CHECK(r.output.rfind("[info] line 1\n[info] line 2\n", 0) == 0);  // the output keeps its own cap

  auto wide = h.run("for i = 1, 100 do log.warn(('x'):rep(10000)) end");
  CHECK(wide.host_log.size() == 26 + 1);  // 26 lines of 10,000 bytes fit in 256 KiB
  CHECK(wide.host_log_dropped == 74);
}
