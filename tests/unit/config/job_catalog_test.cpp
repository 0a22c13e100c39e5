// Reloads keep the last good version of a job whose file now fails.
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "config/job_catalog.hpp"

using namespace cronhost;
using namespace cronhost::config;

TEST_CASE("a broken file keeps its last good job, a removed file drops it", "[config][catalog]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", "schedule: {cron: '0 1 * * *'}\nrun: {lua: scripts/job.lua}\n");
  dir.write("jobs.d/b.yaml", "schedule: {cron: '0 2 * * *'}\nrun: {lua: scripts/job.lua}\n");
  JobCatalog catalog;
  CHECK(catalog.update(load_jobs({dir.path() / "jobs.d"}, LoadOptions{})).size() == 2);

  dir.write("jobs.d/a.yaml", "schedule: {cron: '0 25 * * *'}\nrun: {lua: scripts/job.lua}\n");  // broken
  dir.write("jobs.d/b.yaml", "schedule: {cron: '0 3 * * *'}\nrun: {lua: scripts/job.lua}\n");   // changed
  auto jobs = catalog.update(load_jobs({dir.path() / "jobs.d"}, LoadOptions{}));
  REQUIRE(jobs.size() == 2);
  CHECK(catalog.kept() == std::vector<std::string>{"a"});
  for (const auto& job : jobs) {
    if (job->name == "a") CHECK(job->schedule.describe() == "0 1 * * *");
    if (job->name == "b") CHECK(job->schedule.describe() == "0 3 * * *");
  }

  std::filesystem::remove(dir.path() / "jobs.d/a.yaml");
  jobs = catalog.update(load_jobs({dir.path() / "jobs.d"}, LoadOptions{}));
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]->name == "b");
  CHECK(catalog.kept().empty());
}

TEST_CASE("jobs() is the set the last update returned", "[config][catalog]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", "schedule: {cron: '0 1 * * *'}\nrun: {lua: scripts/job.lua}\n");
  JobCatalog catalog;
  CHECK(catalog.jobs().empty());
  const auto jobs = catalog.update(load_jobs({dir.path() / "jobs.d"}, LoadOptions{}));
  REQUIRE(catalog.jobs().size() == 1);
  CHECK(catalog.jobs().front() == jobs.front());  // shared, not copied
}

TEST_CASE("a broken file's last good job is not kept when a file that loads now takes its name", "[config][catalog]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", "schedule: {cron: '0 1 * * *'}\nrun: {lua: scripts/job.lua}\n");
  JobCatalog catalog;
  REQUIRE(catalog.update(load_jobs({dir.path() / "jobs.d"}, LoadOptions{})).size() == 1);

  dir.write("jobs.d/a.yaml", "schedule: {cron: '0 1 * * *'\n");  // not YAML: no name read from it
  dir.write("jobs.d/z.yaml", "name: a\nschedule: {cron: '0 4 * * *'}\nrun: {lua: scripts/job.lua}\n");
  const auto jobs = catalog.update(load_jobs({dir.path() / "jobs.d"}, LoadOptions{}));
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]->file.ends_with("z.yaml"));
  CHECK(jobs[0]->schedule.describe() == "0 4 * * *");
  CHECK(catalog.kept().empty());
}
