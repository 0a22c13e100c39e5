// Secrets never show: not a piece of a composite value, not in the escaped forms that
// json.encode, %q and JSON text give them.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "../support/temp_dir.hpp"
#include "api/effects.hpp"
#include "config/job_loader.hpp"
#include "run/lua_runner.hpp"

using namespace cronhost;

TEST_CASE("a secret is redacted in its escaped forms too", "[redaction]") {
  api::Redactor r;
  r.add("s3cr\"et\\x");
  CHECK(r.apply("raw s3cr\"et\\x") == "raw ***");
  CHECK(r.apply("json s3cr\\\"et\\\\x") == "json ***");  // inside JSON text
  api::Redactor lines;
  lines.add("line1\nline2\r\x01" "9");
  CHECK(lines.apply("q line1\\\nline2\\r\\0019") == "q ***");  // as %q writes it
}

TEST_CASE("each ${env:} part of a composite param is redacted on its own", "[redaction][lua]") {
  test::TempDir dir;
  ::setenv("CRONHOST_TEST_TOKEN", "tok-\"quoted\"-9f3a", 1);
  dir.write("scripts/job.lua",
            "print(job.params.auth:sub(8))\n"                         // the token alone
            "print(json.encode({t = job.params.auth:sub(8)}))\n"      // JSON-escaped
            "print(string.format('%q', job.params.auth:sub(8)))\n"    // Lua-quoted
            "log.info(job.params.auth)\n"
            "return {token = job.params.auth:sub(8)}\n");
  config::Diagnostics diagnostics;
  auto job = config::load_job_text(
      "job.yaml", "schedule: {every: 1h}\nrun: {lua: scripts/job.lua}\nparams: {auth: \"Bearer ${env:CRONHOST_TEST_TOKEN}\"}\n",
      dir.path(), {}, diagnostics);
  REQUIRE(job);
  run::RunContext ctx(*job, {}, nullptr);
  const auto result = run::run_lua(ctx);
  ::unsetenv("CRONHOST_TEST_TOKEN");
  REQUIRE(result.status == store::RunStatus::kSucceeded);
  const std::string everything = ctx.output.text() + result.result_json;
  CHECK(everything.find("9f3a") == std::string::npos);
  CHECK(ctx.output.text() == "***\n{\"t\":\"***\"}\n\"***\"\n[info] ***\n");
  CHECK(result.result_json == "{\"token\":\"***\"}");
}
