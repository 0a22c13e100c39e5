#include <catch2/catch.hpp>

#include "dispatch/job_registry.hpp"

using namespace cronhost;

namespace {

config::JobSpec job_in(const std::string& zone) {
  return config::JobSpec{.name = "report",
                         .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::load(zone).value())};
}

Instant at(const std::string& text) { return parse_rfc3339(text).value().instant(); }

}  // namespace

TEST_CASE("a schedule override: cron in the job's zone unless it names one", "[dispatch][override]") {
  const auto job = job_in("Europe/Berlin");
  auto own_zone = dispatch::schedule_from_json({{"cron", "0 9 * * *"}}, job);
  REQUIRE(own_zone);
  CHECK(own_zone.value().zone().name() == "Europe/Berlin");
  CHECK(own_zone.value().next(at("2026-11-30T00:00:00Z")) == at("2026-11-30T08:00:00Z"));

  auto named = dispatch::schedule_from_json({{"cron", {"0 9 * * *", "0 17 * * *"}}, {"timezone", "UTC"}}, job);
  REQUIRE(named);
  CHECK(named.value().next(at("2026-11-30T10:00:00Z")) == at("2026-11-30T17:00:00Z"));
}

TEST_CASE("a bad schedule override says what is wrong", "[dispatch][override]") {
  const auto job = job_in("UTC");
  const std::vector<std::pair<nlohmann::json, std::string>> table = {
      {{{"cron", "61 * * * *"}}, "cron \"61 * * * *\": minute field \"61\": 61 is out of range 0-59"},
      {{{"cron", "0 9 * * *"}, {"timezone", "Mars/Base"}}, "timezone: "},
      {{{"cron", "0 9 * * *"}, {"every", "1h"}}, "unknown key \"every\" (expected cron and timezone)"},
      {{{"timezone", "UTC"}}, "the body must be {\"cron\": ..., \"timezone\": ...}"},
      {{{"cron", nlohmann::json::array()}}, "cron: expected a cron expression or a list of them"},
      {{{"cron", {1}}}, "cron: every item must be a cron expression (a string)"},
  };
  for (const auto& [body, message] : table) {
    INFO(body.dump());
    auto result = dispatch::schedule_from_json(body, job);
    REQUIRE_FALSE(result);
    CHECK(result.message().rfind(message, 0) == 0);
  }
}
