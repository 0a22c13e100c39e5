// api::RunHistory, what host.runs stands on: the query's checks and defaults, read against
// the run's clock, and the runs as JSON from a real state file.
#include <catch2/catch.hpp>

#include "../support/fake_clock.hpp"
#include "../store/backends.hpp"
#include "../support/temp_dir.hpp"
#include "api/run_history.hpp"

using namespace cronhost;

TEST_CASE("RunHistory: since, status and limit are checked and defaulted", "[api][host]") {
  test::FakeClock clock(1'800'000'000'000);
  api::RunHistory history(nullptr, clock);
  auto plain = history.check({});
  REQUIRE(plain);
  CHECK(plain->limit == 1000);
  CHECK_FALSE(plain->since);

  auto back = history.check({.since = 7 * 86400.0, .job = "nightly", .status = "failed", .limit = 1e9});
  REQUIRE(back);
  CHECK(back->since == 1'800'000'000'000 - 7 * 86'400'000);
  CHECK(back->job == "nightly");
  CHECK(back->status == store::RunStatus::kFailed);
  CHECK(back->limit == 10000);

  auto at = history.check({.since = std::string("2026-11-18T00:00:00+01:00")});
  REQUIRE(at);
  CHECK(at->since == 1'794'956'400'000);

  CHECK(history.check({.since = std::string("2026-11-18T00:00:00")}).message() ==
        "field 'since' must be seconds or an RFC 3339 time with an offset");
  CHECK(history.check({.status = "done"}).message() ==
        "unknown status 'done' (succeeded, failed, timed_out, skipped, cancelled, interrupted, queued, running)");
  CHECK(history.check({.limit = 0}).message() == "field 'limit' must be 1 or more");
  CHECK(history.runs(*plain).message() == "this run has no state file");
}

STORE_CONTRACT_TEST("RunHistory: runs come newest first as JSON with RFC 3339 times", "[api][host]") {
  Backend backend;
  auto state = backend.open();
  const int64_t first = *state->claim({.job = "a", .scheduled_for = 1'000'000, .started_at = 1'000'000}).value();
  const int64_t second = *state->claim({.job = "b", .scheduled_for = 2'000'000, .started_at = 2'000'000}).value();
  state->finish(first, "a", {store::RunStatus::kFailed, 1'003'000, 3000, "", "boom", "", false});
  state->flush();
  test::FakeClock clock(3'000'000);
  api::RunHistory history(state.get(), clock);
  auto runs = history.runs(*history.check({}));
  REQUIRE(runs);
  REQUIRE(runs->size() == 2);
  CHECK((*runs)[0]["id"] == second);
  CHECK((*runs)[0]["finished_at"].is_null());
  CHECK((*runs)[1]["job"] == "a");
  CHECK((*runs)[1]["status"] == "failed");
  CHECK((*runs)[1]["error"] == "boom");
  CHECK((*runs)[1]["scheduled_for"] == "1970-01-01T00:16:40+00:00");
  CHECK((*runs)[1]["finished_at"] == "1970-01-01T00:16:43+00:00");
  CHECK((*runs)[1]["duration_ms"] == 3000);
}
