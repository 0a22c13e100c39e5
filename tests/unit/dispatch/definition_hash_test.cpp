// The hash hosts compare job definitions by: the same job in two folders hashes alike, a
// changed script text or setting does not, and secret values never reach it.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "../support/temp_dir.hpp"
#include "config/job_loader.hpp"
#include "dispatch/definition_hash.hpp"

using namespace cronhost;

namespace {

config::JobSpec load(const test::TempDir& dir, const std::string& yaml) {
  config::Diagnostics diagnostics;
  auto spec = config::load_job_text((dir.path() / "jobs.d" / "backup.yaml").string(), yaml, dir.path(), {}, diagnostics);
  std::string problems;
  for (const auto& d : diagnostics) problems += d.format() + "\n";
  INFO(problems);
  REQUIRE(spec);
  return *spec;
}

constexpr const char* kJob = "schedule: {cron: \"0 3 * * *\", timezone: Europe/Berlin}\nrun: {lua: scripts/backup.lua}\n";

}  // namespace

TEST_CASE("definition hash: alike in two folders, different when the script or a setting differs", "[dispatch][drift]") {
  test::TempDir one, two;
  one.write("scripts/backup.lua", "return 1\n");
  two.write("scripts/backup.lua", "return 1\n");
  dispatch::DefinitionHasher hasher;
  const std::string first = hasher.hash(load(one, kJob));
  CHECK(first.size() == 16);
  CHECK(hasher.hash(load(two, kJob)) == first);  // another folder, the same job

  two.write("scripts/backup.lua", "return 2\n");  // same size: the time tells the cache
  std::filesystem::last_write_time(two.path() / "scripts/backup.lua",
                                   std::filesystem::file_time_type::clock::now() + std::chrono::seconds(5));
  CHECK(hasher.hash(load(two, kJob)) != first);

  CHECK(hasher.hash(load(one, std::string(kJob) + "timeout: 5m\n")) != first);
  CHECK(hasher.hash(load(one, "schedule: {cron: \"0 4 * * *\", timezone: Europe/Berlin}\nrun: {lua: scripts/backup.lua}\n")) !=
        first);
  const auto loaded = load(one, kJob);
  std::filesystem::remove(one.path() / "scripts/backup.lua");
  CHECK(hasher.hash(loaded) != first);  // unreadable now: differs from the hosts that can read it
}

TEST_CASE("definition hash: secret values are left out", "[dispatch][drift]") {
  test::TempDir dir;
  dir.write("scripts/backup.lua", "return 1\n");
  setenv("CRONHOST_HASH_SECRET", "hunter2", 1);
  auto job = load(dir, std::string(kJob) + "params: {password: \"${env:CRONHOST_HASH_SECRET}\"}\n");
  CHECK(dispatch::definition_json(job).dump().find("hunter2") == std::string::npos);
  dispatch::DefinitionHasher hasher;
  const std::string hash = hasher.hash(job);
  setenv("CRONHOST_HASH_SECRET", "other", 1);
  CHECK(hasher.hash(load(dir, std::string(kJob) + "params: {password: \"${env:CRONHOST_HASH_SECRET}\"}\n")) == hash);
  unsetenv("CRONHOST_HASH_SECRET");
}
