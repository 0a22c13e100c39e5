// Table sources: what a source file must say, and the jobs rows make (typed values, encoded
// URLs, secrets kept secret, bad rows left out by key).
#include <catch2/catch.hpp>

#include <cstdlib>

#include "../support/temp_dir.hpp"
#include "config/job_loader.hpp"

using namespace cronhost;
using namespace cronhost::config;

namespace {

struct Folder {
  test::TempDir dir;
  Folder() { dir.write("scripts/job.lua", "return {}\n"); }
  LoadResult load(const std::string& yaml) {
    dir.write("jobs.d/workflows.yaml", yaml);
    return load_jobs({dir.path() / "jobs.d"}, {});
  }
  std::vector<std::string> problems(const std::string& yaml) {
    std::vector<std::string> out;
    for (const auto& d : load(yaml).diagnostics) out.push_back(d.format().substr(dir.path().string().size() + 1));
    return out;
  }
};

api::DbRows rows(std::vector<std::string> columns, std::vector<std::vector<api::DbValue>> values) {
  return api::DbRows{std::move(columns), std::move(values)};
}

const char* kSource = R"(source: {db: app, query: "SELECT id, cron, zone, enabled, note FROM schedules", every: 30s}
job:
  name: "wf-{{row.id}}"
  schedule: {cron: "{{row.cron}}", timezone: "{{ row.zone }}"}
  enabled: "{{row.enabled}}"
  run: {http: {url: "https://app.test/api/workflow/{{row.note}}/run", headers: {Authorization: "Bearer ${env:CRONHOST_TEST_TS_TOKEN}"}}}
  params: {id: "{{row.id}}", label: "workflow {{row.id}}: {{row.note}}", token: "${env:CRONHOST_TEST_TS_TOKEN}"}
)";

}  // namespace

TEST_CASE("a table source file is read as a source, not a job", "[config][table_source]") {
  setenv("CRONHOST_TEST_TS_TOKEN", "ts-secret-0123", 1);
  Folder f;
  auto result = f.load(kSource);
  INFO((result.diagnostics.empty() ? "" : result.diagnostics.front().format()));
  REQUIRE(result.diagnostics.empty());
  CHECK(result.jobs.empty());
  REQUIRE(result.sources.size() == 1);
  const TableSource& source = result.sources[0];
  CHECK(source.name == "workflows");
  CHECK(source.db == "app");
  CHECK(source.every == std::chrono::seconds(30));
  CHECK(source.key == "id");
  CHECK(source.secret_pointers == std::set<std::string>{"/params/token", "/run/http/headers/Authorization"});
}

TEST_CASE("rows make typed jobs, bad rows are left out by key, the rest kept", "[config][table_source]") {
  setenv("CRONHOST_TEST_TS_TOKEN", "ts-secret-0123", 1);
  Folder f;
  auto source = f.load(kSource).sources.at(0);
  const auto made = expand_table_source(
      source,
      rows({"id", "cron", "zone", "enabled", "note"},
           {{int64_t{1}, std::string("*/5 * * * *"), std::string("Europe/Berlin"), int64_t{1}, std::string("../admin?x=${env:HOME}")},
            {int64_t{2}, std::string("not cron"), std::string("UTC"), true, std::string("b")},
            {int64_t{3}, std::string("0 * * * *"), std::string("Mars/Base"), false, std::string("c")},
            {int64_t{4}, std::string("0 * * * *"), std::string("UTC"), int64_t{0}, nullptr},
            {int64_t{4}, std::string("0 * * * *"), std::string("UTC"), int64_t{1}, std::string("again")}}),
      {});
  REQUIRE(made.jobs.size() == 2);
  REQUIRE(made.definitions.size() == 2);
  const JobSpec& one = *made.jobs[0];
  CHECK(one.name == "wf-1");
  CHECK(one.enabled);
  CHECK(one.schedule.zone().name() == "Europe/Berlin");
  CHECK(one.params["id"] == 1);  // the whole placeholder keeps the column's type
  // Inside text a row is text: never ${...} read, and percent-encoded inside the URL.
  CHECK(one.params["label"] == "workflow 1: ../admin?x=${env:HOME}");
  CHECK(one.http->url == "https://app.test/api/workflow/..%2Fadmin%3Fx%3D%24%7Benv%3AHOME%7D/run");
  // The template's secrets stay secret in each job.
  CHECK(one.params["token"] == "ts-secret-0123");
  CHECK(one.printable_params()["token"] == "***");
  CHECK(one.http->secret_headers.count("Authorization") == 1);
  CHECK(std::find(one.secret_values.begin(), one.secret_values.end(), "ts-secret-0123") != one.secret_values.end());
  CHECK_FALSE(made.jobs[1]->enabled);  // 0 as MySQL keeps false
  CHECK(made.jobs[1]->params["label"] == "workflow 4: ");  // NULL is empty text
  REQUIRE(made.problems.size() == 3);
  CHECK(made.problems[0].find("workflows.yaml: row id=2: schedule.cron:") != std::string::npos);
  CHECK(made.problems[1].find("workflows.yaml: row id=3: schedule.timezone:") != std::string::npos);
  CHECK(made.problems[2].find("row id=4: the job name wf-4 is made by an earlier row too") != std::string::npos);
  // The same row makes the same definition, so an unchanged row keeps its job.
  const auto again = expand_table_source(source, rows({"id", "cron", "zone", "enabled", "note"},
                                                      {{int64_t{1}, std::string("*/5 * * * *"), std::string("Europe/Berlin"),
                                                        int64_t{1}, std::string("../admin?x=${env:HOME}")}}),
                                         {});
  CHECK(again.definitions.at(0) == made.definitions[0]);
}

TEST_CASE("a query without a column the template names makes no jobs, and says which", "[config][table_source]") {
  setenv("CRONHOST_TEST_TS_TOKEN", "ts-secret-0123", 1);
  Folder f;
  auto source = f.load(kSource).sources.at(0);
  const auto made = expand_table_source(source, rows({"id", "cron"}, {{int64_t{1}, std::string("* * * * *")}}), {});
  CHECK(made.jobs.empty());
  REQUIRE(made.problems.size() == 1);
  CHECK(made.problems[0].find("the query returns no column 'enabled' (it returns id, cron)") != std::string::npos);
}

TEST_CASE("a table source's own mistakes are reported at their line", "[config][table_source]") {
  Folder f;
  CHECK(f.problems("source: {db: app, every: 0s, kee: id}\njob: {name: fixed, run: {lua: scripts/job.lua}}\nwriteback: {}\n") ==
        std::vector<std::string>{
            "jobs.d/workflows.yaml:1:9: error: source: missing required key query",
            "jobs.d/workflows.yaml:1:26: error: source.every: at least 1s",
            "jobs.d/workflows.yaml:1:30: error: source.kee: unknown key (expected db, query, every, key and listen), did you mean 'key'?",
            "jobs.d/workflows.yaml:2:13: error: job.name: each row's job needs its own name, e.g. \"workflow-{{row.id}}\"",
            "jobs.d/workflows.yaml:3:12: error: writeback: expected {exec: \"UPDATE ... WHERE id = ?\", args: [run.started_at, row.id]}"});
  CHECK(f.problems("source: {db: app, query: q}\njob: {name: \"w-{{row.id}}\", params: {a: \"{{ id }}\"}}\n") ==
        std::vector<std::string>{
            "jobs.d/workflows.yaml:2:42: error: job.params.a: {{ id }} is not a placeholder (expected {{row.COLUMN}})"});
}

TEST_CASE("a writeback carries the row's values into each job and checks its fields", "[config][table_source]") {
  Folder f;
  auto result = f.load(
      "source: {db: app, query: q}\njob: {name: \"w-{{row.id}}\", schedule: {every: 1m}, run: {lua: scripts/job.lua}}\n"
      "writeback: {exec: \"UPDATE t SET last = ?, next = ? WHERE id = ?\", args: [run.started_at, job.next_fire, row.id]}\n");
  REQUIRE(result.diagnostics.empty());
  const auto made = expand_table_source(result.sources.at(0), rows({"id"}, {{int64_t{7}}}), {});
  REQUIRE(made.jobs.size() == 1);
  REQUIRE(made.jobs[0]->writeback);
  const Writeback& writeback = *made.jobs[0]->writeback;
  CHECK(writeback.db == "app");
  CHECK(writeback.sql == "UPDATE t SET last = ?, next = ? WHERE id = ?");
  REQUIRE(writeback.args.size() == 3);
  CHECK(writeback.args[0].field == "run.started_at");
  CHECK(writeback.args[1].field == "job.next_fire");
  CHECK(writeback.args[2].field.empty());
  CHECK(writeback.args[2].value == 7);
  CHECK(f.problems("source: {db: app, query: q}\njob: {name: \"w-{{row.id}}\"}\n"
                   "writeback: {exec: \"UPDATE t SET a = ?\", args: [run.start, 5], exce: x}\n") ==
        std::vector<std::string>{
            "jobs.d/workflows.yaml:3:48: error: writeback.args[0]: expected row.COLUMN or one of run.started_at, "
            "run.finished_at, run.status, run.id, run.duration_ms, job.next_fire, job.name",
            "jobs.d/workflows.yaml:3:59: error: writeback.args[1]: expected row.COLUMN or one of run.started_at, "
            "run.finished_at, run.status, run.id, run.duration_ms, job.next_fire, job.name",
            "jobs.d/workflows.yaml:3:63: error: writeback.exce: unknown key (expected exec and args)"});
}

TEST_CASE("a re-read of unchanged rows keeps their jobs as they were, unbuilt, and a changed row is built anew",
          "[config][table_source]") {
  setenv("CRONHOST_TEST_TS_TOKEN", "ts-secret-0123", 1);
  Folder f;
  auto source = f.load(kSource).sources.at(0);
  const std::vector<std::string> columns = {"id", "cron", "zone", "enabled", "note"};
  const auto row = [](int64_t id, const char* cron) {
    return std::vector<api::DbValue>{id, std::string(cron), std::string("UTC"), true, std::string("n")};
  };
  const auto first = expand_table_source(source, rows(columns, {row(1, "0 * * * *"), row(2, "0 * * * *"), row(3, "bad")}), {});
  CHECK(first.built == 2);
  REQUIRE(first.jobs.size() == 2);
  const auto second = expand_table_source(source, rows(columns, {row(1, "0 * * * *"), row(2, "0 * * * *"), row(3, "bad")}), {},
                                          &first);
  CHECK(second.built == 0);
  REQUIRE(second.jobs.size() == 2);
  CHECK(second.jobs[0] == first.jobs[0]);  // the same job, not a copy
  CHECK(second.jobs[1] == first.jobs[1]);
  CHECK(second.definitions == first.definitions);
  CHECK(second.problems.size() == 1);  // a bad row is still reported on each read
  const auto third = expand_table_source(source, rows(columns, {row(1, "0 * * * *"), row(2, "30 * * * *")}), {}, &second);
  CHECK(third.built == 1);
  REQUIRE(third.jobs.size() == 2);
  CHECK(third.jobs[0] == first.jobs[0]);
  CHECK(third.jobs[1] != first.jobs[1]);
  CHECK(std::get<schedule::CronTimes>(third.jobs[1]->schedule.kind()).texts == std::vector<std::string>{"30 * * * *"});
}
