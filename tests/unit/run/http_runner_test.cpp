#include <catch2/catch.hpp>

#include "run/http_runner.hpp"

using namespace cronhost;
using store::RunStatus;

TEST_CASE("a JobResult becomes the run's outcome", "[run][http]") {
  auto ok = run::read_job_result(R"({"success": true, "itemsProcessed": 3, "itemsSucceeded": 2, "itemsFailed": 1,
                                     "metadata": {"cursor": "c1"}})");
  CHECK(ok.status == RunStatus::kSucceeded);
  REQUIRE(ok.items);
  CHECK(ok.items->processed == 3);
  CHECK(ok.items->succeeded == 2);
  CHECK(ok.items->failed == 1);
  CHECK(nlohmann::json::parse(ok.result_json)["metadata"]["cursor"] == "c1");

  auto bare = run::read_job_result(R"({"success": true})");
  CHECK(bare.status == RunStatus::kSucceeded);
  CHECK_FALSE(bare.items);

  auto failed = run::read_job_result(R"({"success": false, "error": "upstream 502"})");
  CHECK(failed.status == RunStatus::kFailed);
  CHECK(failed.error == "the service reported failure: upstream 502");
  CHECK(run::read_job_result(R"({"success": false})").error == "the service reported failure");
}

TEST_CASE("anything but a JobResult fails the run and says why", "[run][http]") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"<html>oops</html>", "not JSON (<html>oops</html>)"},
      {"[1, 2]", "not a JSON object"},
      {"{}", "\"success\" must be true or false"},
      {R"({"success": "yes"})", "\"success\" must be true or false"},
      {R"({"success": true, "itemsProcessed": -1})", "itemsProcessed must be a whole number, 0 or more (got -1)"},
      {R"({"success": true, "itemsFailed": 1.5})", "itemsFailed must be a whole number, 0 or more (got 1.5)"},
      {R"({"success": true, "error": 7})", "\"error\" must be a string"},
  };
  for (const auto& [body, why] : table) {
    INFO(body);
    auto result = run::read_job_result(body);
    CHECK(result.status == RunStatus::kFailed);
    CHECK(result.error == "the service's answer is not a JobResult: " + why);
  }
}
