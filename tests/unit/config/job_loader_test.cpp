// Job files: what loads, and the exact PATH:LINE:COL and message of each kind of mistake.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

#include <sys/stat.h>

#include "../support/temp_dir.hpp"
#include "config/job_loader.hpp"

using namespace cronhost;
using namespace cronhost::config;

namespace {

// A jobs.d beside scripts/, as in the repository.
struct JobsFolder {
  test::TempDir dir;
  JobsFolder() { dir.write("scripts/job.lua", "return {}\n"); }
  void job(const std::string& file, const std::string& yaml) const { dir.write("jobs.d/" + file, yaml); }
  LoadResult load() const {
    LoadOptions options;
    options.now = Instant(std::chrono::seconds(1795000000));  // 2026-11-18
    return load_jobs({dir.path() / "jobs.d"}, options);
  }
  // Diagnostics with the folder prefix removed: "jobs.d/x.yaml:3:5: error: ...".
  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    const std::string prefix = dir.path().string() + "/";
    for (const auto& d : load().diagnostics) {
      std::string line = d.format();
      if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
      out.push_back(line);
    }
    return out;
  }
};

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("a complete job loads with every key", "[config][jobs]") {
  JobsFolder f;
  setenv("CRONHOST_TEST_APP_VERSION", "1.2.3", 1);
  f.dir.write("secrets/token", "s3cret\n");
  f.job("version-check.yaml", R"(# yaml-language-server: $schema=../schemas/job.schema.json
description: Look for a newer app image twice a day
schedule:
  cron: ["0 6 * * *", "0 12 * * *"]
  timezone: Australia/Adelaide
  jitter: 30s
run:
  lua: scripts/job.lua
params: {image: ghcr.io/acme/app, current: "${env:CRONHOST_TEST_APP_VERSION}", token: "${file:secrets/token}", n: 3}
timeout: 2m
retries: {attempts: 3, backoff: 30s, max_backoff: 10m}
concurrency: forbid
catchup: {policy: latest, window: 6h}
enabled: true
)");
  auto result = f.load();
  REQUIRE(result.diagnostics.empty());
  REQUIRE(result.jobs.size() == 1);
  const JobSpec& job = result.jobs[0];
  CHECK(job.name == "version-check");
  CHECK(job.description == "Look for a newer app image twice a day");
  CHECK(job.schedule.describe() == "0 6 * * *; 0 12 * * *");
  CHECK(job.schedule.zone().name() == "Australia/Adelaide");
  CHECK(job.schedule.jitter() == std::chrono::seconds(30));
  CHECK(job.lua_script == f.dir.path() / "scripts/job.lua");
  CHECK(job.params["current"] == "1.2.3");
  CHECK(job.params["token"] == "s3cret");
  CHECK(job.params["n"] == 3);
  CHECK(job.printable_params()["current"] == "***");
  CHECK(job.printable_params()["token"] == "***");
  CHECK(job.printable_params()["image"] == "ghcr.io/acme/app");
  CHECK(job.timeout == std::chrono::minutes(2));
  CHECK(job.retries.attempts == 3);
  CHECK(job.retries.max_backoff == std::chrono::minutes(10));
  CHECK(job.concurrency == Concurrency::kForbid);
  CHECK(job.catchup.policy == CatchupPolicy::kLatest);
  CHECK(job.catchup.window == std::chrono::hours(6));
  CHECK(job.enabled);
}

TEST_CASE("defaults: name from the file, UTC, no retries, forbid, latest within 1h", "[config][jobs]") {
  JobsFolder f;
  f.job("heartbeat.yml", "schedule: {every: 15m}\nrun: {lua: scripts/job.lua}\n");
  auto result = f.load();
  REQUIRE(result.diagnostics.empty());
  const JobSpec& job = result.jobs.at(0);
  CHECK(job.name == "heartbeat");
  CHECK(job.schedule.zone().name() == "UTC");
  CHECK(job.schedule.describe() == "every 15m");
  CHECK(job.timeout == std::chrono::hours(1));
  CHECK(job.retries.attempts == 1);
  CHECK(job.concurrency == Concurrency::kForbid);
  CHECK(job.catchup.policy == CatchupPolicy::kLatest);
  CHECK(job.catchup.window == std::chrono::hours(1));
  CHECK(job.enabled);
}

TEST_CASE("a job named by its file takes the name up to the file's last dot, at any depth", "[config][jobs]") {
  JobsFolder f;
  const std::string yaml = "schedule: {every: 15m}\nrun: {lua: scripts/job.lua}\n";
  f.job("nightly.backup.yaml", yaml);
  f.job("team/report.v2.yml", yaml);
  f.job("team/nightly.backup.yml", yaml);
  const auto result = f.load();
  REQUIRE(result.jobs.size() == 2);
  CHECK(result.jobs[0].name == "nightly.backup");
  CHECK(result.jobs[1].name == "report.v2");
  // The cross-file checks name a file's job the same way.
  CHECK(f.problems() == Lines{"jobs.d/team/nightly.backup.yml:1:1: error: duplicate job name 'nightly.backup' (also defined in " +
                              f.dir.path().string() + "/jobs.d/nightly.backup.yaml)"});
}

TEST_CASE("each kind of mistake is reported at its line and column", "[config][jobs][errors]") {
  struct Row {
    std::string yaml;
    Lines expected;
  };
  const Row rows[] = {
      {"schedule: {every: 1h}\nrun: {http: {method: POST}}\n",
       {"jobs.d/a.yaml:2:13: error: run.http: missing required key url"}},
      {"schedule: {every: 1h}\nrun: {http: {url: 'http://x/', headers: {X-A: 5}}}\n",
       {"jobs.d/a.yaml:2:47: error: run.http.headers.X-A: expected a header value, got a number"}},
      // Header values go out verbatim: CR/LF would add headers or a second request.
      {"schedule: {every: 1h}\nrun: {http: {url: 'http://x/', headers: {X-A: \"a\\r\\nHost: evil\"}}}\n",
       {"jobs.d/a.yaml:2:47: error: run.http.headers.X-A: header 'X-A': its value holds a control character "
        "(only visible characters, spaces and tabs are allowed)"}},
      {"schedule: {every: 1h}\nrun: {http: {url: 'http://x/', headers: {Host: evil.test}}}\n",
       {"jobs.d/a.yaml:2:48: error: run.http.headers.Host: header 'Host' is set by the HTTP client, never by a job"}},
      {"schedule: {every: 1h}\nrun: {http: {url: 'ftp://x/'}}\n",
       {"jobs.d/a.yaml:2:19: error: run.http.url: expected an http:// or https:// URL, got \"ftp://x/\""}},
      {"shedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:1: error: unknown key 'shedule' in job, did you mean 'schedule'?",
        "jobs.d/a.yaml:1:1: error: job: missing required key schedule"}},
      {"schedule:\n  cron: '0 6 * * *'\n  timzone: UTC\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:3:3: error: unknown key 'timzone' in schedule, did you mean 'timezone'?"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\ntimeout: 5x\n",
       {"jobs.d/a.yaml:3:10: error: timeout: expected a duration such as 500ms, 30s, 15m, 2h, 1d or 1h30m, got \"5x\""}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nretries: {attempts: many}\n",
       {"jobs.d/a.yaml:3:21: error: retries.attempts: expected a whole number from 1 to 100, got text"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nretries: {attempts: 0}\n",
       {"jobs.d/a.yaml:3:21: error: retries.attempts: expected a whole number from 1 to 100, got 0"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nconcurrency: forbidd\n",
       {"jobs.d/a.yaml:3:14: error: concurrency: expected one of forbid, allow or replace, got \"forbidd\", did you mean 'forbid'?"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nenabled: yes\n",
       {"jobs.d/a.yaml:3:10: error: enabled: expected true or false, got text"}},
      {"schedule:\n  cron: \"0 25 * * *\"\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:2:12: error: schedule.cron: hour field \"25\": 25 is out of range 0-23"}},
      {"schedule:\n  cron:\n    - 0 6 * * *\n    - 0 12 * * FRY\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:4:16: error: schedule.cron: day-of-week field \"FRY\": unknown value \"FRY\", expected 0-7 or SUN-SAT"}},
      {"schedule: {cron: '0 0 30 2 *'}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:19: error: schedule.cron: \"0 0 30 2 *\" never fires (no date matches its day and month fields)"}},
      {"schedule: {cron: '0 6 * * *', timezone: Australia/Adeliade}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:41: error: schedule.timezone: unknown time zone \"Australia/Adeliade\", expected an IANA name such as Europe/London or UTC"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/missing.lua}\n",
       {"jobs.d/a.yaml:2:12: error: run.lua: script file scripts/missing.lua not found (looked for DIR/scripts/missing.lua)"}},
      {"schedule: {cron: '0 6 * * *', every: 5m}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:11: error: schedule: give only one of cron and every"}},
      {"schedule: {timezone: UTC}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:11: error: schedule: needs one of cron, every, at, after or on"}},
      {"schedule: {every: 1500ms}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:19: error: schedule.every: must be whole seconds, at least 1s"}},
      {"schedule: {at: 'next tuesday'}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:17: error: schedule.at: bad time \"next tuesday\": the date must be YYYY-MM-DD (expected RFC 3339, e.g. 2026-12-01T09:00:00+10:30)"}},
      {"schedule: {at: 2020-01-01T00:00:00Z}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:16: warning: schedule.at is in the past: this job will not fire"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nparams: {key: '${env:CRONHOST_TEST_UNSET_VARIABLE}'}\n",
       {"jobs.d/a.yaml:3:15: error: environment variable CRONHOST_TEST_UNSET_VARIABLE is not set (${env:CRONHOST_TEST_UNSET_VARIABLE})"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nretries: {backoff: 10m, max_backoff: 1m}\n",
       {"jobs.d/a.yaml:3:38: error: retries: max_backoff (1m) is shorter than backoff (10m)"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:3:1: error: duplicate key 'run' (first given on line 2)"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nmax_instances: 2\n",
       {"jobs.d/a.yaml:3:1: warning: max_instances is used only with concurrency: allow"}},
      {"schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\nname: 'bad name'\n",
       {"jobs.d/a.yaml:3:7: error: name: expected a name of letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit), got \"bad name\""}},
      {"schedule: {cron: '0 6 * * *'\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:2:1: error: not valid YAML: did not find expected ',' or '}', found 'r' (while parsing a flow mapping at line 1, column 11)"}},
      {"- just\n- a list\n", {"jobs.d/a.yaml:1:1: error: job: expected a mapping of job keys (schedule, run, ...), got a list"}},
      {"", {"jobs.d/a.yaml:1:1: error: job: expected a mapping of job keys (schedule, run, ...), got nothing"}},
      {"schedule: {cron: ['0 0 * * *', 5, {a: 1}]}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:32: error: schedule.cron[1]: expected a cron expression, got a number",
        "jobs.d/a.yaml:1:35: error: schedule.cron[2]: expected a cron expression, got a mapping"}},
      {"description: '${env:HOME}'\nschedule: {cron: '@daily', timezone: '${env:TZ}'}\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:1:14: error: ${env:...} and ${file:...} are secrets and may be used only in params and run.http.headers of job files",
        "jobs.d/a.yaml:2:38: error: ${env:...} and ${file:...} are secrets and may be used only in params and run.http.headers of job files"}},
      // A missing key does not hide the problems of the keys that are there.
      {"schedule: {cron: '0 0 30 2 *'}\ntimeout: 99999d\n",
       {"jobs.d/a.yaml:1:1: error: job: missing required key run",
        "jobs.d/a.yaml:1:19: error: schedule.cron: \"0 0 30 2 *\" never fires (no date matches its day and month fields)",
        "jobs.d/a.yaml:2:10: error: timeout: duration \"99999d\" is too long (at most 3650d)"}},
      // Folded text: the column of the problem is not knowable, so the value's start is given.
      {"schedule:\n  cron: >-\n    0 6 * *\n    MON-FRY\nrun: {lua: scripts/job.lua}\n",
       {"jobs.d/a.yaml:2:9: error: schedule.cron: day-of-week field \"MON-FRY\": unknown value \"FRY\", expected 0-7 or SUN-SAT"}},
      {std::string("schedule: {cron: '@daily'}\nrun: {lua: scripts/job.lua}\ntimeout: ") + std::string(50'000, '1') + "s\n",
       {"jobs.d/a.yaml:3:10: error: timeout: expected a duration such as 500ms, 30s, 15m, 2h, 1d or 1h30m, got 50001 characters"}},
  };
  for (const auto& row : rows) {
    INFO(row.yaml);
    JobsFolder f;
    f.job("a.yaml", row.yaml);
    Lines got = f.problems();
    for (auto& line : got)
      if (auto p = line.find(f.dir.path().string()); p != std::string::npos) line.replace(p, f.dir.path().string().size(), "DIR");
    CHECK(got == row.expected);
  }
}

TEST_CASE("all problems in all files are reported, plus cross-file ones", "[config][jobs][errors]") {
  JobsFolder f;
  f.job("a.yaml", "schedule: {cron: '0 6 * * *'}\nrun: {lua: scripts/job.lua}\n");
  f.job("b.yaml", "name: a\nschedule: {cron: '0 7 * * *'}\nrun: {lua: scripts/job.lua}\n");
  f.job("c.yaml", "schedule: {after: {job: nightly-bakup}}\nrun: {lua: scripts/job.lua}\n");
  f.job("d.yaml", "schedule: {cron: '0 6 * * *'}\ntimeout: 1x\nrun: {lua: scripts/job.lua}\nconcurrency: sometimes\n");
  f.job("e.yaml", "schedule: {after: {job: f, status: failed}}\nrun: {lua: scripts/job.lua}\n");
  f.job("f.yaml", "schedule: {after: {job: e}}\nrun: {lua: scripts/job.lua}\n");
  f.job("nightly-backup.yaml", "schedule: {cron: '0 2 * * *'}\nrun: {lua: scripts/job.lua}\n");
  f.job("notes.txt", "not a job");
  const Lines expected = {
      "jobs.d/b.yaml:1:7: error: duplicate job name 'a' (also defined in DIR/jobs.d/a.yaml)",
      "jobs.d/c.yaml:1:25: error: schedule.after.job: no job named 'nightly-bakup', did you mean 'nightly-backup'?",
      "jobs.d/d.yaml:2:10: error: timeout: expected a duration such as 500ms, 30s, 15m, 2h, 1d or 1h30m, got \"1x\"",
      "jobs.d/d.yaml:4:14: error: concurrency: expected one of forbid, allow or replace, got \"sometimes\"",
      "jobs.d/e.yaml:1:25: error: schedule.after: the chain e -> f -> ... comes back to e and never fires",
      "jobs.d/f.yaml:1:25: error: schedule.after: the chain f -> e -> ... comes back to f and never fires",
  };
  Lines got = f.problems();
  for (auto& line : got)
    if (auto p = line.find(f.dir.path().string()); p != std::string::npos) line.replace(p, f.dir.path().string().size(), "DIR");
  CHECK(got == expected);
  auto result = f.load();
  std::vector<std::string> names;
  for (const auto& job : result.jobs) names.push_back(job.name);
  CHECK(names == std::vector<std::string>{"a", "nightly-backup"});
}

TEST_CASE("secrets never appear in messages", "[config][jobs][secrets]") {
  JobsFolder f;
  setenv("CRONHOST_TEST_SECRET", "hunter2-very-secret", 1);
  f.job("a.yaml", "schedule: {cron: '${env:CRONHOST_TEST_SECRET}'}\nrun: {lua: scripts/job.lua}\n"
                  "concurrency: '${env:CRONHOST_TEST_SECRET}'\nname: '${env:CRONHOST_TEST_SECRET}'\n"
                  "params: {token: '${env:CRONHOST_TEST_SECRET}'}\n");
  f.job("b.yaml", "schedule: {after: {job: '${env:CRONHOST_TEST_SECRET}'}}\nrun: {lua: scripts/job.lua}\n");
  const auto problems = f.problems();
  for (const auto& line : problems) CHECK(line.find("hunter2") == std::string::npos);
  CHECK(problems.size() == 4);
}

TEST_CASE("a single file resolves relative paths against the folder above its own", "[config][jobs]") {
  JobsFolder f;
  f.job("one.yaml", "schedule: {cron: '@daily'}\nrun: {lua: scripts/job.lua}\n");
  auto result = load_jobs({f.dir.path() / "jobs.d" / "one.yaml"}, LoadOptions{});
  CHECK(result.diagnostics.empty());
  CHECK(result.jobs.size() == 1);
  auto missing = load_jobs({f.dir.path() / "nope"}, LoadOptions{});
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK(missing.diagnostics[0].message == "no such file or folder");
}

TEST_CASE("at and anchor without an offset are read in the job's time zone", "[config][jobs]") {
  JobsFolder f;
  f.job("once.yaml", "schedule: {at: '2030-10-06T02:30:00', timezone: Australia/Adelaide}\nrun: {lua: scripts/job.lua}\n");
  auto result = f.load();
  REQUIRE(result.jobs.size() == 1);
  // 2030-10-06 is the spring-forward day in Adelaide: 02:30 does not exist, so the end of the gap.
  CHECK(result.jobs[0].schedule.describe() == "at 2030-10-06T03:00:00+10:30");
}

TEST_CASE("a jobs folder that is missing makes the load incomplete, so a reload keeps its jobs", "[config][jobs]") {
  JobsFolder folder;
  folder.job("a.yaml", "schedule: {cron: \"@daily\"}\nrun: {lua: scripts/job.lua}\n");
  const auto present = folder.load();
  CHECK(present.complete);
  CHECK(present.jobs.size() == 1);
  std::filesystem::rename(folder.dir.path() / "jobs.d", folder.dir.path() / "jobs.d.away");
  const auto missing = folder.load();
  CHECK_FALSE(missing.complete);
  CHECK(missing.jobs.empty());
  CHECK(folder.problems() == Lines{"jobs.d:1:1: error: no such file or folder"});
}

TEST_CASE("a job file that is a link leading nowhere is an error naming it, not a job gone without a word",
          "[config][jobs]") {
  JobsFolder folder;
  folder.job("a.yaml", "schedule: {cron: \"@daily\"}\nrun: {lua: scripts/job.lua}\n");
  std::filesystem::create_symlink("gone.yaml", folder.dir.path() / "jobs.d" / "b.yaml");
  const auto result = folder.load();
  CHECK(result.complete);
  CHECK(result.jobs.size() == 1);
  CHECK(folder.problems() == Lines{"jobs.d/b.yaml:1:1: error: cannot read the file: No such file or directory (it links to gone.yaml)"});
}

TEST_CASE("allowlists may come from ${var:}, an unset or empty variable is an error, never an open list",
          "[config][jobs][errors]") {
  JobsFolder f;
  setenv("CRONHOST_TEST_HOOK", "http://deploy.test:3000/hooks/deploy", 1);
  setenv("CRONHOST_TEST_EMPTY", "", 1);
  unsetenv("CRONHOST_TEST_UNSET");
  f.job("ok.yaml", "schedule: {every: 1h}\nrun: {lua: scripts/job.lua}\n"
                   "params: {webhook: \"${var:CRONHOST_TEST_HOOK}\"}\n"
                   "allow: {http: [\"${var:CRONHOST_TEST_HOOK}\"], files: [\"${var:CRONHOST_TEST_UNSET:-/srv/x}\"]}\n");
  {
    auto result = f.load();
    REQUIRE(result.diagnostics.empty());
    REQUIRE(result.jobs.size() == 1);
    CHECK(result.jobs[0].allow.http == std::vector<std::string>{"http://deploy.test:3000/hooks/deploy"});
    CHECK(result.jobs[0].allow.files == std::vector<std::filesystem::path>{"/srv/x"});
  }
  f.job("empty.yaml", "schedule: {every: 1h}\nrun: {lua: scripts/job.lua}\n"
                      "allow:\n  files: [\"${var:CRONHOST_TEST_EMPTY}/\"]\n  registry: [\"${var:CRONHOST_TEST_EMPTY:-}*\"]\n");
  f.job("unset.yaml", "schedule: {every: 1h}\nrun: {lua: scripts/job.lua}\nallow:\n  http: [\"${var:CRONHOST_TEST_UNSET}\"]\n");
  f.job("secret.yaml", "schedule: {every: 1h}\nrun: {lua: scripts/job.lua}\nallow:\n  http: [\"${env:CRONHOST_TEST_HOOK}\"]\n");
  const auto problems = f.problems();
  const auto reported = [&](const std::string& where, const std::string& message) {
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& line) {
      return line.rfind(where, 0) == 0 && line.find(message) != std::string::npos;
    });
  };
  INFO(Catch::Detail::stringify(problems));
  CHECK(reported("jobs.d/empty.yaml:4:", "allow.files[0]: variable CRONHOST_TEST_EMPTY is unset or empty (got '/')"));
  CHECK(reported("jobs.d/empty.yaml:5:", "allow.registry[0]: variable CRONHOST_TEST_EMPTY is unset or empty (got '*')"));
  CHECK(reported("jobs.d/unset.yaml:4:", "environment variable CRONHOST_TEST_UNSET is not set (${var:CRONHOST_TEST_UNSET})"));
  CHECK(reported("jobs.d/secret.yaml:4:", "${env:...} and ${file:...} are secrets"));
  CHECK_FALSE(reported("jobs.d/ok.yaml", ""));
  unsetenv("CRONHOST_TEST_HOOK");
  unsetenv("CRONHOST_TEST_EMPTY");
}

TEST_CASE("allow.approvals names the jobs whose approvals a job may use", "[config][jobs]") {
  JobsFolder f;
  f.job("notice.yaml", "schedule: {on: approval.approved, kind: update}\nrun: {lua: scripts/job.lua}\n"
                       "allow: {approvals: [version-check, \"*\"]}\n");
  {
    auto result = f.load();
    REQUIRE(result.diagnostics.empty());
    REQUIRE(result.jobs.size() == 1);
    CHECK(result.jobs[0].allow.approvals == std::vector<std::string>{"version-check", "*"});
  }
  f.job("deaf.yaml", "schedule: {on: approval.approved}\nrun: {lua: scripts/job.lua}\n");
  f.job("bad.yaml", "schedule: {every: 1h}\nrun: {lua: scripts/job.lua}\nallow:\n  approvals: [\"version check\", 7]\n");
  CHECK(f.problems() ==
        Lines{"jobs.d/bad.yaml:4:15: error: allow.approvals[0]: expected a job name (letters, digits, '.', '_', '-') "
              "or '*', got \"version check\"",
              "jobs.d/bad.yaml:4:32: error: allow.approvals[1]: expected a job name (letters, digits, '.', '_', '-') "
              "or '*', got a number",
              "jobs.d/deaf.yaml:1:16: warning: schedule.on: approval.approved fires only for approvals job deaf asked "
              "for itself; name the jobs that ask in allow.approvals (e.g. [version-check])"});
}

TEST_CASE("a large jobs folder loads on several threads with the result of one", "[config][loader]") {
  // Past kFilesPerThread files per thread the loader splits the work; what it returns must
  // not depend on which thread read which file.
  test::TempDir dir;
  const int kFiles = 1500;
  for (int i = 0; i < kFiles; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "jobs.d/j%04d.yaml", i);
    if (i % 7 == 3)  // a broken one: an error on line 2
      dir.write(name, "schedule: {every: 1h}\nrun: {lua: scripts/t.lua, shell: nope}\n");
    else if (i % 11 == 5)  // the same name as another file: the one found later is refused
      dir.write(std::string("jobs.d/dup/") + (name + 7), "schedule: {every: 1h}\nrun: {lua: scripts/t.lua}\n"),
          dir.write(name, "schedule: {every: 1h}\nrun: {lua: scripts/t.lua}\n");
    else
      dir.write(name, "schedule: {cron: \"" + std::to_string(i % 60) + " * * * *\"}\nrun: {lua: scripts/t.lua}\n");
  }
  dir.write("scripts/t.lua", "return 1\n");
  const auto result = load_jobs({dir.path() / "jobs.d"}, LoadOptions{});
  int broken = 0, duplicated = 0;
  for (int i = 0; i < kFiles; ++i) broken += i % 7 == 3, duplicated += i % 7 != 3 && i % 11 == 5;
  CHECK(result.files == static_cast<size_t>(kFiles + duplicated));
  CHECK(result.jobs.size() == static_cast<size_t>(kFiles - broken));
  CHECK(std::is_sorted(result.jobs.begin(), result.jobs.end(),
                       [](const JobSpec& a, const JobSpec& b) { return a.name < b.name; }));
  CHECK(std::is_sorted(result.diagnostics.begin(), result.diagnostics.end(),
                       [](const Diagnostic& a, const Diagnostic& b) {
                         return a.file != b.file ? a.file < b.file : a.position.line < b.position.line;
                       }));
  size_t unknown_key = 0, duplicate_name = 0;
  for (const auto& d : result.diagnostics) {
    unknown_key += d.message.find("unknown key 'shell'") != std::string::npos;
    duplicate_name += d.message.find("duplicate job name") != std::string::npos;
  }
  CHECK(unknown_key == static_cast<size_t>(broken));
  CHECK(duplicate_name == static_cast<size_t>(duplicated));
  // Which of two files with one name wins is decided by file order, not by thread timing.
  const auto again = load_jobs({dir.path() / "jobs.d"}, LoadOptions{});
  REQUIRE(again.jobs.size() == result.jobs.size());
  for (size_t i = 0; i < again.jobs.size(); ++i) CHECK(again.jobs[i].file == result.jobs[i].file);
  // One job read through, to see the files' own content landed in the right job.
  const auto j0007 = std::find_if(result.jobs.begin(), result.jobs.end(), [](const JobSpec& j) { return j.name == "j0007"; });
  REQUIRE(j0007 != result.jobs.end());
  CHECK(j0007->file.find("j0007.yaml") != std::string::npos);
}

TEST_CASE("a FIFO named as a job file is refused at once", "[config][loader]") {
  // Before, reading it waited for a writer: `cronhost validate` (or a reload) hung.
  test::TempDir dir;
  const auto path = dir.path() / "fifo.yaml";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  const auto result = load_jobs({path}, LoadOptions{});
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].format() == path.string() + ":1:1: error: cannot read the file: not a regular file");
  CHECK(result.jobs.empty());
}
