// The files module as a script sees it, run through the real sandbox on a scratch folder:
// reads and writes inside allow.files, every way out refused, gzip checked with zlib, prune,
// and dry runs that change nothing on disk.
#include <catch2/catch.hpp>
#include <atomic>
#include <fcntl.h>
#include <fstream>
#include <stdio.h>
#include <thread>
#include <zlib.h>

#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "run/lua_runner.hpp"

using namespace cronhost;
using store::RunStatus;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  RunStatus status;
  std::string error;
  std::string result;
  std::vector<api::Effect> effects;
};

// A job allowed the folder data/; outside/ holds what it must never reach. Scripts see DIR.
class Site {
 public:
  Site() {
    job_.allow.files = {dir_.path() / "data"};
    fs::create_directories(path("data"));
    dir_.write("outside/secret.txt", "secret");
  }

  fs::path path(const std::string& relative) const { return dir_.path() / relative; }
  fs::path write(const std::string& relative, const std::string& content) const { return dir_.write(relative, content); }
  std::string read(const std::string& relative) const {
    std::ifstream in(path(relative), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void age(const std::string& relative, std::chrono::hours by) const {
    fs::last_write_time(path(relative), fs::file_time_type::clock::now() - by);
  }

  Outcome run(const std::string& source, api::EffectMode mode = api::EffectMode::kLive,
              std::chrono::seconds timeout = std::chrono::seconds(10)) {
    job_.lua_script = dir_.write("scripts/job.lua", "local DIR = '" + dir_.path().string() + "'\n" + source);
    job_.timeout = timeout;
    run::RunContext ctx(job_, {}, nullptr, nullptr, mode);
    const run::RunResult r = run::run_lua(ctx);
    return {r.status, r.error, r.result_json, ctx.effects.captured()};
  }

 private:
  test::TempDir dir_;
  config::JobSpec job_{.name = "files-job", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
};

void require_success(const Outcome& r) {
  INFO(r.error);
  REQUIRE(r.status == RunStatus::kSucceeded);
}

std::string gunzip(const fs::path& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  REQUIRE(in);
  std::string out;
  char buffer[65536];
  for (int n; (n = gzread(in, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<size_t>(n));
  gzclose(in);
  return out;
}

size_t entries(const fs::path& dir) { return static_cast<size_t>(std::distance(fs::directory_iterator(dir), {})); }

}  // namespace

TEST_CASE("files: write, read, stat, list and remove inside the allowed folder", "[lua][files]") {
  Site site;
  auto r = site.run(R"lua(
    local base = DIR .. '/data'
    assert(files.write(base .. '/reports/a.txt', 'hello') == 5)    -- the folder is created
    assert(files.write(base .. '/reports/b.log', 'world!') == 6)
    assert(files.read(base .. '/reports/a.txt') == 'hello')
    local st = assert(files.stat(base .. '/reports/b.log'))
    assert(st.size == 6 and st.dir == false and st.path == base .. '/reports/b.log')
    assert(math.abs(st.mtime - os.time()) < 60 and math.type(st.mtime) == 'integer')
    local list = assert(files.list(base .. '/reports'))
    assert(#list == 2 and list[1].name == 'a.txt' and list[2].name == 'b.log')
    assert(list[1].path == base .. '/reports/a.txt' and list[1].size == 5 and list[1].dir == false)
    local logs = files.list(base .. '/reports', '*.log')
    assert(#logs == 1 and logs[1].name == 'b.log')
    local top = files.list(base)
    assert(#top == 1 and top[1].name == 'reports' and top[1].dir and top[1].size == 0)

    assert(files.write(base .. '/reports/a.txt', 'bye') == 3)       -- replaced whole, no temporary left
    assert(files.read(base .. '/reports/a.txt') == 'bye' and #files.list(base .. '/reports') == 2)
    local big, err = files.read(base .. '/reports/b.log', {max_bytes = 3})
    assert(big == nil and err == 'files.read: ' .. base .. '/reports/b.log: 6 bytes, more than max_bytes (3)', err)

    local none, err2 = files.stat(base .. '/nope')
    assert(none == nil and err2 == 'files.stat: ' .. base .. '/nope: no such file', err2)
    local _, err3 = files.list(base .. '/nope')
    assert(err3 == 'files.list: ' .. base .. '/nope: no such folder', err3)
    local _, err4 = files.read(base .. '/nope')
    assert(err4 == 'files.read: ' .. base .. '/nope: no such file', err4)

    assert(files.remove(base .. '/reports/a.txt') == true)
    local gone, err5 = files.remove(base .. '/reports/a.txt')
    assert(gone == nil and err5 == 'files.remove: ' .. base .. '/reports/a.txt: no such file', err5)
  )lua");
  require_success(r);
  CHECK(site.read("data/reports/b.log") == "world!");
  CHECK_FALSE(fs::exists(site.path("data/reports/a.txt")));
  CHECK(entries(site.path("data/reports")) == 1);
}

TEST_CASE("files: every way out of allow.files raises with the path named", "[lua][files]") {
  Site site;
  fs::create_symlink(site.path("outside/secret.txt"), site.path("data/link"));
  fs::create_directory_symlink(site.path("outside"), site.path("data/out"));
  const std::string dir = site.path("").string();  // ends in '/'
  const std::pair<std::string, std::string> rows[] = {
      {"files.read(DIR .. '/outside/secret.txt')",
       "files: " + dir + "outside/secret.txt is not allowed for job files-job (allow.files)"},
      {"files.stat(DIR .. '/data/../outside/secret.txt')",
       "files: " + dir + "data/../outside/secret.txt is not allowed for job files-job (allow.files)"},
      {"files.read(DIR .. '/data/link')", "files: " + dir + "data/link is not allowed for job files-job (allow.files)"},
      {"files.write(DIR .. '/data/out/new.txt', 'x')",
       "files: " + dir + "data/out/new.txt is not allowed for job files-job (allow.files)"},
      {"files.remove(DIR .. '/data/link')", "files: " + dir + "data/link is not allowed for job files-job (allow.files)"},
      {"files.list(DIR .. '/data/out')", "files: " + dir + "data/out is not allowed for job files-job (allow.files)"},
      {"files.gzip(DIR .. '/data/link')", "files: " + dir + "data/link is not allowed for job files-job (allow.files)"},
      {"files.prune(DIR .. '/outside', {keep = 0})", "files: " + dir + "outside is not allowed for job files-job (allow.files)"},
      {"files.stat('data/x')", "files: data/x is not an absolute path"},
      {"files.remove(DIR .. '/data')", "files.remove: " + dir + "data is a folder; only files can be removed"},
      {"files.remove(DIR .. '/data/..')", "files: " + dir + "data/.. is not allowed for job files-job (allow.files)"},
      {"files.prune(DIR .. '/data', {pattern = '*.gz'})", "files.prune: give older_than, keep or both"},
      {"files.read(DIR .. '/data/x', {max = 1})", "files.read: unknown field 'max'"},
  };
  for (const auto& [source, message] : rows) {
    INFO(source);
    auto r = site.run(source);
    CHECK(r.status == RunStatus::kFailed);
    CHECK_THAT(r.error, Catch::StartsWith(message));
  }
  CHECK_FALSE(fs::exists(site.path("outside/new.txt")));
  CHECK(site.read("outside/secret.txt") == "secret");
  // Listing leaves out the entries that lead outside.
  site.write("data/plain.txt", "x");
  auto listed = site.run("local names = {} for _, f in ipairs(files.list(DIR .. '/data')) do names[#names + 1] = f.name end return names");
  require_success(listed);
  CHECK(listed.result == R"(["plain.txt"])");
}

TEST_CASE("files: gzip streams a valid gzip file and can remove the source", "[lua][files]") {
  Site site;
  std::string content;  // about 1.5 MB, several chunks, somewhat compressible
  for (int i = 0; content.size() < 1'500'000; ++i) content += "line " + std::to_string(i * 7919 % 100003) + " of the log\n";
  site.write("data/app.log", content);
  auto r = site.run("return files.gzip(DIR .. '/data/app.log')");
  require_success(r);
  const auto result = nlohmann::json::parse(r.result);
  CHECK(result["path"] == site.path("data/app.log.gz").string());
  CHECK(result["source_bytes"] == content.size());
  CHECK(result["bytes"] == fs::file_size(site.path("data/app.log.gz")));
  CHECK(result["bytes"].get<size_t>() < content.size() / 2);
  CHECK(gunzip(site.path("data/app.log.gz")) == content);
  CHECK_FALSE(result.contains("estimated"));  // a real size
  CHECK(fs::exists(site.path("data/app.log")));

  site.write("data/empty.txt", "");
  auto removing = site.run(R"lua(
    local gz = assert(files.gzip(DIR .. '/data/empty.txt', {remove_source = true}))
    assert(gz.source_bytes == 0 and gz.bytes > 0)
    local none, err = files.gzip(DIR .. '/data/missing.txt')
    assert(none == nil and err == 'files.gzip: ' .. DIR .. '/data/missing.txt: no such file', err)
  )lua");
  require_success(removing);
  CHECK_FALSE(fs::exists(site.path("data/empty.txt")));
  CHECK(gunzip(site.path("data/empty.txt.gz")).empty());
  CHECK(entries(site.path("data")) == 3);  // app.log, app.log.gz, empty.txt.gz: no temporaries
  auto folder = site.run("files.gzip(DIR .. '/data')");
  CHECK_THAT(folder.error, Catch::StartsWith("files.gzip: " + site.path("data").string() + " is a folder"));
}

TEST_CASE("files: prune keeps the newest and removes the old matching files", "[lua][files]") {
  Site site;
  for (auto [name, days] : {std::pair{"a1.gz", 40}, {"a2.gz", 35}, {"a3.gz", 20}, {"a4.gz", 1}, {"notes.txt", 100}}) {
    site.write(std::string("data/") + name, name);
    site.age(std::string("data/") + name, std::chrono::hours(24 * days));
  }
  fs::create_directory(site.path("data/old.gz"));  // a folder is never pruned
  site.age("data/old.gz", std::chrono::hours(24 * 90));
  auto r = site.run(R"lua(
    local base = DIR .. '/data'
    local removed = files.prune(base, {pattern = '*.gz', older_than = 30 * 86400})
    assert(#removed == 2 and removed[1] == base .. '/a2.gz' and removed[2] == base .. '/a1.gz')
    removed = files.prune(base, {pattern = '*.gz', keep = 1})
    assert(#removed == 1 and removed[1] == base .. '/a3.gz')
    assert(#files.prune(base, {pattern = '*.gz', keep = 1}) == 0)
    local _, err = files.prune(base .. '/none', {keep = 1})
    assert(err == 'files.prune: ' .. base .. '/none: no such folder', err)
  )lua");
  require_success(r);
  CHECK(fs::exists(site.path("data/a4.gz")));
  CHECK(fs::exists(site.path("data/notes.txt")));
  CHECK(fs::is_directory(site.path("data/old.gz")));
  CHECK_FALSE(fs::exists(site.path("data/a1.gz")));
  CHECK_FALSE(fs::exists(site.path("data/a3.gz")));
}

TEST_CASE("files: a dry run reads for real and captures every change", "[lua][files]") {
  Site site;
  site.write("data/keep.txt", "keep");
  site.write("data/old.gz", "old");
  site.write("data/app.db", std::string(30000, 'x'));
  site.write("data/ancient.log", "log");
  site.age("data/ancient.log", std::chrono::hours(24 * 40));
  auto r = site.run(R"lua(
    local base = DIR .. '/data'
    assert(files.read(base .. '/keep.txt') == 'keep')
    assert(files.write(base .. '/new.txt', 'abc') == 3)
    local st = assert(files.stat(base .. '/new.txt'))
    assert(st.size == 3 and st.dry_run)
    local _, err = files.read(base .. '/new.txt')
    assert(err == 'files.read: ' .. base .. '/new.txt: exists only in this dry run; its content was not written', err)
    assert(files.remove(base .. '/old.gz') == true)
    local gz = assert(files.gzip(base .. '/app.db', {remove_source = true}))
    assert(gz.dry_run and gz.path == base .. '/app.db.gz' and gz.source_bytes == 30000 and gz.bytes == 10020)
    assert(gz.estimated == true, 'a dry run says its gzip size is an estimate')
    assert(files.stat(base .. '/app.db.gz').size == gz.bytes)
    local removed = files.prune(base, {pattern = '*.log', older_than = 86400})
    assert(#removed == 1 and removed[1] == base .. '/ancient.log')
  )lua", api::EffectMode::kDryRun);
  require_success(r);
  CHECK_FALSE(fs::exists(site.path("data/new.txt")));
  CHECK(site.read("data/old.gz") == "old");
  CHECK(fs::exists(site.path("data/app.db")));
  CHECK_FALSE(fs::exists(site.path("data/app.db.gz")));
  CHECK(fs::exists(site.path("data/ancient.log")));
  CHECK(entries(site.path("data")) == 4);
  const std::string base = site.path("data").string();
  std::vector<std::string> summaries;
  for (const auto& effect : r.effects) {
    CHECK(effect.kind == "files");
    summaries.push_back(effect.summary);
  }
  CHECK(summaries == std::vector<std::string>{"write " + base + "/new.txt (3 bytes)", "remove " + base + "/old.gz",
                                              "gzip " + base + "/app.db -> " + base +
                                                  "/app.db.gz (source removed), about 10020 bytes (an estimate: a "
                                                  "dry run compresses nothing)",
                                              "remove " + base + "/ancient.log"});
}

// Issue 12 item 8: a path used to be checked by name and then opened by name again, so a
// folder swapped for a symlink in between let the script reach outside. A thread swaps
// data/swap (a real folder) with a symlink to outside/canary as fast as it can while the
// script reads, stats, lists, writes, removes, gzips and prunes through it.
TEST_CASE("files: a folder swapped for a symlink mid-call never leads outside", "[lua][files][race]") {
  Site site;
  site.write("data/swap/f.txt", "inside");
  site.write("outside/canary/f.txt", "secret");
  site.write("outside/canary/outside_only.txt", "o");
  site.write("outside/canary/victim.txt", "keep");
  site.write("outside/canary/p_keep.txt", "keep");
  fs::create_directory_symlink(site.path("outside/canary"), site.path("data/swap_link"));
  const fs::path swap = site.path("data/swap"), other = site.path("data/swap_link");

  std::atomic<bool> done{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    while (!done.load()) {
      if (::renameat2(AT_FDCWD, swap.c_str(), AT_FDCWD, other.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  auto r = site.run(R"lua(
    local S = DIR .. '/data/swap'
    local leaks = {}
    local function leak(what) leaks[#leaks + 1] = what end
    local started = os.clock()
    for i = 1, 3000 do
      -- Bounded by CPU time too: under ASAN on a loaded 2-core machine 3000 rounds took >10 s.
      if os.clock() - started > 8 then break end
      local ok, text = pcall(files.read, S .. '/f.txt')
      if ok and text == 'secret' then leak('read') end
      local ok2, st = pcall(files.stat, S .. '/outside_only.txt')
      if ok2 and st then leak('stat') end
      local ok3, list = pcall(files.list, S)
      if ok3 and list then
        for _, f in ipairs(list) do if f.name == 'outside_only.txt' then leak('list') end end
      end
      if i % 10 == 0 then
        pcall(files.write, S .. '/w.txt', 'x')
        pcall(files.remove, S .. '/victim.txt')
        pcall(files.gzip, S .. '/f.txt')
        pcall(files.prune, S, {pattern = 'p*', keep = 0})
      end
      if #leaks > 0 then break end
    end
    return 'leaks: ' .. table.concat(leaks, ',')
  )lua", api::EffectMode::kLive, std::chrono::seconds(60));
  done = true;
  swapper.join();
  require_success(r);
  INFO("swaps: " << swaps.load());
  CHECK(swaps.load() > 100);
  CHECK(r.result == R"("leaks: ")");
  std::vector<std::string> canary;
  for (const auto& entry : fs::directory_iterator(site.path("outside/canary"))) canary.push_back(entry.path().filename());
  std::sort(canary.begin(), canary.end());
  CHECK(canary == std::vector<std::string>{"f.txt", "outside_only.txt", "p_keep.txt", "victim.txt"});
  CHECK(site.read("outside/canary/f.txt") == "secret");
  CHECK(site.read("outside/canary/victim.txt") == "keep");
}

TEST_CASE("files: links inside the folder, absolute links and hard links", "[lua][files]") {
  Site site;
  site.write("data/2026/report.txt", "inside");
  site.write("outside/shared.txt", "shared");
  fs::create_directory_symlink("2026", site.path("data/current"));                      // relative, stays inside
  fs::create_symlink(site.path("data/2026/report.txt"), site.path("data/absolute"));   // absolute, even if inside
  fs::create_hard_link(site.path("outside/shared.txt"), site.path("data/hard.txt"));
  const std::string dir = site.path("").string();
  auto r = site.run(R"lua(
    local base = DIR .. '/data'
    assert(files.read(base .. '/current/report.txt') == 'inside')
    assert(files.write(base .. '/current/new.txt', 'via link') == 8)
    local names = {}
    for _, f in ipairs(files.list(base)) do names[#names + 1] = f.name end
    assert(table.concat(names, ',') == '2026,current,hard.txt', table.concat(names, ','))
    assert(files.write(base .. '/hard.txt', 'replaced') == 8)   -- the entry is replaced, not written through
    assert(files.remove(base .. '/current') == true)            -- the link, not the folder
  )lua");
  require_success(r);
  CHECK(site.read("data/2026/new.txt") == "via link");
  CHECK(fs::is_directory(site.path("data/2026")));
  CHECK_FALSE(fs::exists(fs::symlink_status(site.path("data/current"))));
  CHECK(site.read("data/hard.txt") == "replaced");
  CHECK(site.read("outside/shared.txt") == "shared");
  auto absolute = site.run("return files.read(DIR .. '/data/absolute')");
  CHECK(absolute.status == RunStatus::kFailed);
  CHECK_THAT(absolute.error, Catch::StartsWith("files: " + dir + "data/absolute is not allowed for job files-job (allow.files)"));
}
