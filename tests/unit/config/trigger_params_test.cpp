// trigger_params: what a manual trigger may override, as tables of (declared, params, verdict).
#include <catch2/catch.hpp>

#include "config/job_loader.hpp"
#include "config/trigger_params.hpp"

using namespace cronhost;
using namespace cronhost::config;
using nlohmann::json;

TEST_CASE("a trigger sets only the params the job declares, as declared", "[config][trigger_params]") {
  const json declared = {{"keep_days", {{"type", "integer"}, {"minimum", 1}, {"maximum", 90}}},
                         {"label", {{"type", "string"}, {"max_length", 5}}},
                         {"mode", {{"enum", {"full", "incremental"}}}},
                         {"recipients", {{"type", "array"}, {"items", "string"}, {"max_items", 2}}},
                         {"ratio", {{"type", "number"}}},
                         {"dry", {{"type", "boolean"}}}};
  const auto rules = TriggerParams::parse(declared);
  REQUIRE(rules);
  json deep = 1;
  for (int i = 0; i < 100; ++i) deep = json{{"a", deep}};
  const std::vector<std::pair<json, std::string>> table = {
      {json::object(), ""},
      {{{"keep_days", 7}}, ""},
      {{{"keep_days", 7.0}}, ""},
      {{{"keep_days", 0}}, "params.keep_days: at least 1"},
      {{{"keep_days", 100000}}, "params.keep_days: at most 90"},
      {{{"keep_days", "7"}}, "params.keep_days: expected an integer"},
      {{{"keep_days", 7.5}}, "params.keep_days: expected an integer"},
      {{{"label", "abcdef"}}, "params.label: at most 5 bytes"},
      {{{"mode", "full"}}, ""},
      {{{"mode", "wipe"}}, "params.mode: expected one of [\"full\",\"incremental\"]"},
      {{{"recipients", {"a@x.test"}}}, ""},
      {{{"recipients", {"a@x.test", "b@x.test", "c@x.test"}}}, "params.recipients: at most 2 items"},
      {{{"recipients", {"a@x.test", 3}}}, "params.recipients[1]: expected a string"},
      {{{"recipients", "a@x.test"}}, "params.recipients: expected an array"},
      {{{"ratio", 0.5}, {"dry", true}}, ""},
      {{{"dry", "yes"}}, "params.dry: expected a boolean"},
      {{{"attach_max_mb", 100000}},
       "params.attach_max_mb: a trigger may not set this param (the job's trigger_params allows dry, keep_days, "
       "label, mode, ratio, recipients)"},
      {{{"keep_days", deep}}, "params: nested deeper than 16 levels"},
      {json::array(), "params: expected a JSON object"},
  };
  for (const auto& [params, verdict] : table) {
    INFO(params.dump().substr(0, 200));
    const auto status = rules.value().check(params);
    if (verdict.empty()) CHECK(status);
    else CHECK((status ? std::string("accepted") : status.message()) == verdict);
  }
}

TEST_CASE("without trigger_params a trigger sets no params", "[config][trigger_params]") {
  const TriggerParams none;
  CHECK(none.check(json::object()));
  CHECK(none.check({{"recipients", {"attacker@evil.test"}}}).message() ==
        "params.recipients: a trigger may not set this param (the job's trigger_params allows none)");
}

TEST_CASE("bad trigger_params are named at their key in the job file", "[config][trigger_params]") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"trigger_params: [a]\n", "job.yaml:3:17: error: trigger_params: "},
      {"trigger_params: {n: {type: date}}\n", "trigger_params.n.type: expected string, integer, number, boolean or array"},
      {"trigger_params: {n: {}}\n", "trigger_params.n: give a type or an enum (a trigger may not set just anything)"},
      {"trigger_params: {n: {type: string, minimum: 1}}\n", "trigger_params.n.minimum: a number, for type integer or number"},
      {"trigger_params: {n: {type: array}}\n", "trigger_params.n.items: the type of each item (string, integer, number or boolean)"},
      {"trigger_params: {n: {type: string, pattern: x}}\n",
       "trigger_params.n: unknown key \"pattern\" (expected type, minimum, maximum, max_length, max_items, items, enum)"},
  };
  for (const auto& [yaml, message] : table) {
    INFO(yaml);
    Diagnostics diagnostics;
    auto spec = load_job_text("job.yaml", "run: {http: {url: \"http://127.0.0.1:9/\"}}\nschedule: {every: 1m}\n" + yaml, "/tmp", {}, diagnostics);
    CHECK_FALSE(spec);
    REQUIRE_FALSE(diagnostics.empty());
    CHECK(diagnostics.front().format().find(message) != std::string::npos);
  }
  Diagnostics diagnostics;
  auto spec = load_job_text("job.yaml", "run: {http: {url: \"http://127.0.0.1:9/\"}}\nschedule: {every: 1m}\ntrigger_params: {n: {type: integer}}\n",
                            "/tmp", {}, diagnostics);
  REQUIRE(spec);
  CHECK(spec->trigger_params.rules().count("n") == 1);
}
