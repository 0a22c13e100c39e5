// A reload takes unchanged job files again unread, and reads every file whose job could differ.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "../support/temp_dir.hpp"
#include "config/job_file_cache.hpp"
#include "config/job_loader.hpp"

using namespace cronhost;
using namespace cronhost::config;
using namespace std::chrono_literals;

namespace {

constexpr const char* kJob = "schedule: {cron: '0 1 * * *'}\nrun: {lua: scripts/job.lua}\n";

// A cache that keeps files however recently written: the tests write and load at once.
JobFileCache no_settle() { return JobFileCache(0ms); }

LoadResult load(const test::TempDir& dir, JobFileCache& cache, const LoadOptions& options = {}) {
  return load_jobs({dir.path() / "jobs.d"}, options, &cache);
}

std::shared_ptr<const JobSpec> only_job(const LoadResult& result) {
  REQUIRE(result.jobs.empty());
  REQUIRE(result.shared_jobs.size() == 1);
  return result.shared_jobs.front();
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(d.message);
  return out;
}

}  // namespace

TEST_CASE("an unchanged job file is taken again unread", "[config][file_cache]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", kJob);
  auto cache = no_settle();
  const auto first = only_job(load(dir, cache));
  CHECK(cache.size() == 1);
  const auto second = only_job(load(dir, cache));
  CHECK(second == first);  // the same object: not parsed again
  CHECK(cache.size() == 1);
}

TEST_CASE("a job file changed in any way is read again", "[config][file_cache]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  const auto file = dir.write("jobs.d/a.yaml", kJob);
  auto cache = no_settle();
  auto before = only_job(load(dir, cache));

  SECTION("new content of another size") {
    dir.write("jobs.d/a.yaml", "schedule: {cron: '0 22 * * *'}\nrun: {lua: scripts/job.lua}\n");
    const auto after = only_job(load(dir, cache));
    CHECK(after != before);
    CHECK(after->schedule.describe() == "0 22 * * *");
  }
  SECTION("new content of the same size, its mtime put back as it was") {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    std::this_thread::sleep_for(30ms);  // past the kernel's coarse clock tick: ctime moves
    dir.write("jobs.d/a.yaml", "schedule: {cron: '0 2 * * *'}\nrun: {lua: scripts/job.lua}\n");
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
    const auto after = only_job(load(dir, cache));
    CHECK(after != before);
    CHECK(after->schedule.describe() == "0 2 * * *");
  }
  SECTION("replaced by another file (a new inode)") {
    const auto other = dir.write("a.yaml.new", "schedule: {cron: '0 3 * * *'}\nrun: {lua: scripts/job.lua}\n");
    std::filesystem::rename(other, file);
    const auto after = only_job(load(dir, cache));
    CHECK(after->schedule.describe() == "0 3 * * *");
  }
  SECTION("removed") {
    std::filesystem::remove(file);
    const auto result = load(dir, cache);
    CHECK(result.shared_jobs.empty());
    CHECK(result.jobs.empty());
    CHECK(cache.size() == 0);
  }
}

TEST_CASE("a kept job whose script is gone is read again and reported", "[config][file_cache]") {
  test::TempDir dir;
  const auto script = dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", kJob);
  dir.write("jobs.d/b.yaml", "schedule: {cron: '0 4 * * *'}\nrun: {lua: scripts/other.lua}\n");
  dir.write("scripts/other.lua", "return 2\n");
  auto cache = no_settle();
  REQUIRE(load(dir, cache).shared_jobs.size() == 2);
  std::filesystem::remove(script);
  const auto result = load(dir, cache);
  REQUIRE(result.shared_jobs.size() == 1);
  CHECK(result.shared_jobs.front()->name == "b");
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].file.ends_with("a.yaml"));
  CHECK(result.diagnostics[0].message.starts_with("run.lua: script file scripts/job.lua not found"));
}

TEST_CASE("files whose job depends on more than their text are read at every load", "[config][file_cache]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  auto cache = no_settle();

  SECTION("a ${file:} secret is read again (rotation), however the YAML spells its \"$\"") {
    const std::string opening = GENERATE("${", "\\u0024{", "\\x24{");
    const auto secret = dir.write("token", "first");
    dir.write("jobs.d/a.yaml", std::string(kJob) + "params: {token: \"" + opening + "file:" + secret.string() + "}\"}\n");
    CHECK(load(dir, cache).jobs.at(0).params["token"] == "first");
    CHECK(cache.size() == 0);
    dir.write("token", "second");
    CHECK(load(dir, cache).jobs.at(0).params["token"] == "second");
  }
  SECTION("a one-shot time: whether it is past depends on when the file is read") {
    dir.write("jobs.d/a.yaml", "schedule: {at: '2030-01-01T00:00:00Z'}\nrun: {lua: scripts/job.lua}\n");
    LoadOptions options;
    options.now = Instant(std::chrono::seconds(1'800'000'000));  // 2027-01-15
    CHECK(load(dir, cache, options).diagnostics.empty());
    CHECK(cache.size() == 0);
    options.now = Instant(std::chrono::seconds(1'900'000'000));  // 2030-03-17
    CHECK(messages(load(dir, cache, options)) ==
          std::vector<std::string>{"schedule.at is in the past: this job will not fire"});
  }
  SECTION("a file with a warning says it again at every load") {
    dir.write("jobs.d/a.yaml", std::string(kJob) + "max_instances: 2\n");
    for (int i = 0; i < 2; ++i) {
      const auto result = load(dir, cache);
      CHECK(result.jobs.size() == 1);
      CHECK(messages(result) == std::vector<std::string>{"max_instances is used only with concurrency: allow"});
    }
    CHECK(cache.size() == 0);
  }
  SECTION("a new default time zone") {
    dir.write("jobs.d/a.yaml", kJob);
    LoadOptions options;
    CHECK(only_job(load(dir, cache, options))->schedule.zone().name() == "UTC");
    options.default_zone = schedule::Zone::load("Europe/Paris").value();
    CHECK(only_job(load(dir, cache, options))->schedule.zone().name() == "Europe/Paris");
  }
}

TEST_CASE("the rules across files still hold for the files taken again", "[config][file_cache]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", kJob);
  dir.write("jobs.d/b.yaml", "name: a\n" + std::string(kJob));
  dir.write("jobs.d/c.yaml", "schedule: {after: {job: d}}\nrun: {lua: scripts/job.lua}\n");
  const auto d = dir.write("jobs.d/d.yaml", kJob);
  auto cache = no_settle();
  const auto first = load(dir, cache);
  CHECK(first.shared_jobs.size() == 3);  // a, c, d: b's name is taken
  CHECK(messages(first).size() == 1);
  CHECK(cache.size() == 4);  // each file alone is clean

  std::filesystem::remove(d);
  const auto second = load(dir, cache);
  CHECK(messages(second) == std::vector<std::string>{
                                "duplicate job name 'a' (also defined in " + (dir.path() / "jobs.d/a.yaml").string() + ")",
                                "schedule.after.job: no job named 'd', did you mean 'a'?"});
  REQUIRE(second.shared_jobs.size() == 1);
  CHECK(second.shared_jobs[0]->name == "a");
  CHECK(second.shared_jobs[0] == first.shared_jobs[0]);
}

TEST_CASE("a file written just now is not kept: a second write in the same clock tick would look the same",
          "[config][file_cache]") {
  test::TempDir dir;
  dir.write("scripts/job.lua", "return 1\n");
  dir.write("jobs.d/a.yaml", kJob);
  JobFileCache cache(std::chrono::hours(1));  // the daemon's waits 2 s: a slow test could outlast that
  for (int i = 0; i < 2; ++i) {
    const auto result = load(dir, cache);
    CHECK(result.jobs.size() == 1);  // read, and not shared with the cache
    CHECK(result.shared_jobs.empty());
    CHECK(cache.size() == 0);
  }
}
