// The semver module as a script sees it, run through the real sandbox.
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "run/lua_runner.hpp"

using namespace cronhost;
using store::RunStatus;

namespace {

// Runs `source` as a job's script; semver needs no state store.
run::RunResult run_script(const std::string& source) {
  test::TempDir dir;
  config::JobSpec job{.name = "semver-job", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
  job.lua_script = dir.write("scripts/job.lua", source);
  job.timeout = std::chrono::seconds(5);
  run::RunContext ctx(job, {}, nullptr);
  return run::run_lua(ctx);
}

}  // namespace

TEST_CASE("semver.parse returns the parts, or nil and a message", "[lua][semver]") {
  auto r = run_script(
      "local v = semver.parse('v1.4.0-rc.2+build.7')\n"
      "assert(v.major == 1 and v.minor == 4 and v.patch == 0)\n"
      "assert(#v.prerelease == 2 and v.prerelease[1] == 'rc' and v.prerelease[2] == '2')\n"
      "assert(v.build == 'build.7' and v.text == '1.4.0-rc.2+build.7')\n"
      "assert(semver.parse('2.0.0').build == nil and #semver.parse('2.0.0').prerelease == 0)\n"
      "local none, err = semver.parse('1.4')\n"
      "assert(none == nil and err == 'not a semantic version: \"1.4\"', err)\n");
  CHECK(r.error == "");
  CHECK(r.status == RunStatus::kSucceeded);
}

TEST_CASE("semver.compare, satisfies and latest", "[lua][semver]") {
  auto r = run_script(
      "assert(semver.compare('1.0.0-beta.11', '1.0.0-beta.2') == 1)\n"
      "assert(semver.compare('1.0.0+a', 'v1.0.0') == 0 and semver.compare('1.0.0-rc.1', '1.0.0') == -1)\n"
      "assert(semver.satisfies('1.4.2', '>=1.2.0 <2.0.0 || ^3.1'))\n"
      "assert(not semver.satisfies('2.0.0-rc.1', '^1.2'))\n"
      "local tags = {'0.1.2', 'latest', 'v0.1.5', '0.2.0-rc.1', 'sha-abc', '0.1.3'}\n"
      "assert(semver.latest(tags) == 'v0.1.5')\n"
      "assert(semver.latest(tags, {prerelease = true}) == '0.2.0-rc.1')\n"
      "assert(semver.latest(tags, {prerelease = false, constraint = '<0.1.5'}) == '0.1.3')\n"
      "assert(semver.latest({'latest'}) == nil and semver.latest({}) == nil)\n");
  CHECK(r.error == "");
  CHECK(r.status == RunStatus::kSucceeded);
}

TEST_CASE("misuse of semver raises with the value named", "[lua][semver]") {
  const std::pair<const char*, const char*> rows[] = {
      {"semver.compare('x', '1.0.0')", "bad argument #1 to 'compare' (not a semantic version: \"x\")"},
      {"semver.compare('1.0.0', '1.0')", "bad argument #2 to 'compare' (not a semantic version: \"1.0\")"},
      {"semver.satisfies('1.0.0', '>=1 <2.x.y')",
       "bad argument #2 to 'satisfies' (constraint \">=1 <2.x.y\": \"2.x.y\" is not a version (expected e.g. 1.2.3))"},
      {"semver.satisfies('one', '*')", "bad argument #1 to 'satisfies' (not a semantic version: \"one\")"},
      {"semver.latest({'1.0.0', 2})", "bad argument #1 to 'latest' (tags[2] is a number, not a string)"},
      {"semver.latest({}, {pre = true})", "bad argument #2 to 'latest' (unknown option \"pre\" (expected prerelease or constraint))"},
      {"semver.latest({}, {constraint = '=>1'})",
       "bad argument #2 to 'latest' (constraint \"=>1\": \"=>\" is not an operator (expected one of = == != > >= < <= ^ ~))"},
  };
  for (auto [source, message] : rows) {
    INFO(source);
    auto r = run_script(source);
    CHECK(r.status == RunStatus::kFailed);
    CHECK(r.error.find(message) != std::string::npos);
  }
}
