// The log file's rotation by size and by day (the day is each line's own time stamp, which the
// test chooses, so midnight passes without waiting), pruning to `keep`, and reopening after an
// outside rename.
#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include "../support/temp_dir.hpp"
#include "util/clock.hpp"
#include "util/log_file_sink.hpp"
#include "util/log_line.hpp"

using namespace cronhost;
namespace fs = std::filesystem;

namespace {

// Unix ms of a local wall time (the test's TZ, whatever it is).
int64_t local_ms(int year, int month, int day, int hour, int minute, int second) {
  std::tm t{};
  t.tm_year = year - 1900, t.tm_mon = month - 1, t.tm_mday = day;
  t.tm_hour = hour, t.tm_min = minute, t.tm_sec = second, t.tm_isdst = -1;
  return int64_t{std::mktime(&t)} * 1000;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> names_in(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.insert(entry.path().filename().string());
  return names;
}

struct FileLogger {
  std::shared_ptr<LogFileSink> sink;
  spdlog::logger logger;
  FileLogger(const fs::path& path, LogFilePolicy policy)
      : sink(std::make_shared<LogFileSink>(path, policy)), logger("test", sink) {
    logger.set_formatter(std::make_unique<LogLineFormatter>(LogLineFormat::kLogfmt));
    logger.flush_on(spdlog::level::trace);  // as the host's (flush_on info): the test reads the file at once
  }
  // A line stamped `ms` (Unix milliseconds), as the host's clock would have stamped it then.
  void at(int64_t ms, const std::string& text) {
    logger.log(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)), {}, spdlog::level::info, text);
  }
};

}  // namespace

TEST_CASE("rotation by size: FILE.1 .. FILE.keep, each under max_size, the newest lines kept in order", "[log]") {
  test::TempDir dir;
  const fs::path path = dir.path() / "logs" / "cronhost.log";
  {
    FileLogger file(path, {LogRotation::kSize, 3, 1024});
    for (int i = 0; i < 200; ++i) file.logger.info("line {:03}", i);
  }
  CHECK(names_in(path.parent_path()) == std::set<std::string>{"cronhost.log", "cronhost.log.1", "cronhost.log.2",
                                                              "cronhost.log.3"});
  std::string kept;
  for (const char* name : {"cronhost.log.3", "cronhost.log.2", "cronhost.log.1", "cronhost.log"}) {
    INFO(name);
    const std::string text = read(path.parent_path() / name);
    CHECK(text.size() <= 1024);
    if (std::string(name) != "cronhost.log") CHECK(text.size() > 900);  // rotated files are full: a line is 61 bytes
    kept += text;
  }
  // The kept lines are the last ones written, none missing, none repeated.
  std::istringstream lines(kept);
  std::vector<int> numbers;
  for (std::string line; std::getline(lines, line);) numbers.push_back(std::stoi(line.substr(line.find("msg=\"line ") + 10)));
  REQUIRE_FALSE(numbers.empty());
  CHECK(numbers.back() == 199);
  for (size_t i = 1; i < numbers.size(); ++i) CHECK(numbers[i] == numbers[i - 1] + 1);
}

TEST_CASE("rotation by size: a lowered keep removes the extra numbered files at open", "[log]") {
  test::TempDir dir;
  for (const char* name : {"x.log.1", "x.log.2", "x.log.3", "x.log.4", "x.log.old", "x.log.2026-01-01"})
    dir.write(name, "old\n");
  FileLogger file(dir.path() / "x.log", {LogRotation::kSize, 2, 1024});
  CHECK(names_in(dir.path()) ==
        std::set<std::string>{"x.log", "x.log.1", "x.log.2", "x.log.old", "x.log.2026-01-01"});
}

TEST_CASE("rotation by day: at local midnight FILE becomes FILE.YYYY-MM-DD, keep of them kept", "[log]") {
  test::TempDir dir;
  const fs::path path = dir.path() / "cronhost.log";
  FileLogger file(path, {LogRotation::kDaily, 2, 0});
  file.at(local_ms(2026, 12, 28, 23, 59, 59), "on the 28th");
  file.at(local_ms(2026, 12, 28, 23, 59, 59) + 999, "still the 28th");
  CHECK(names_in(dir.path()) == std::set<std::string>{"cronhost.log"});
  file.at(local_ms(2026, 12, 29, 0, 0, 0), "on the 29th");
  CHECK(names_in(dir.path()) == std::set<std::string>{"cronhost.log", "cronhost.log.2026-12-28"});
  CHECK_THAT(read(dir.path() / "cronhost.log.2026-12-28"), Catch::Contains("on the 28th") && Catch::Contains("still the 28th"));
  CHECK_THAT(read(path), Catch::Contains("on the 29th") && !Catch::Contains("28th"));

  // Days without a line are skipped; the year turns; only the 2 newest dated files stay.
  file.at(local_ms(2026, 12, 31, 10, 0, 0), "on the 31st");
  file.at(local_ms(2027, 1, 1, 0, 0, 1), "new year");
  CHECK(names_in(dir.path()) == std::set<std::string>{"cronhost.log", "cronhost.log.2026-12-29", "cronhost.log.2026-12-31"});
  CHECK_THAT(read(path), Catch::Contains("new year") && !Catch::Contains("31st"));
  // Each line's time stamp is in its file's day.
  CHECK_THAT(read(dir.path() / "cronhost.log.2026-12-31"), Catch::StartsWith("time=2026-12-31T10:00:00.000"));
}

TEST_CASE("rotation by day: a FILE from an earlier day is renamed at its first line, merged into a dated file already there", "[log]") {
  test::TempDir dir;
  const fs::path path = dir.path() / "cronhost.log";
  dir.write("cronhost.log", "written before the restart\n");
  const std::string today = LogFileSink::local_day(now_ms());
  dir.write("cronhost.log." + today, "earlier that day\n");
  FileLogger file(path, {LogRotation::kDaily, 7, 0});
  file.at(now_ms() + 86'400'000, "after the restart, the next day");
  CHECK(read(dir.path() / ("cronhost.log." + today)) == "earlier that day\nwritten before the restart\n");
  CHECK_THAT(read(path), Catch::Contains("after the restart") && !Catch::Contains("before"));
}

TEST_CASE("rotation by day: a FILE of today goes on at a restart", "[log]") {
  test::TempDir dir;
  const fs::path path = dir.path() / "cronhost.log";
  dir.write("cronhost.log", "written before the restart\n");
  FileLogger file(path, {LogRotation::kDaily, 7, 0});
  file.at(now_ms(), "after the restart");
  CHECK(names_in(dir.path()) == std::set<std::string>{"cronhost.log"});
  CHECK_THAT(read(path), Catch::StartsWith("written before the restart\n") && Catch::Contains("after the restart"));
}

TEST_CASE("reopen follows an outside rename in every mode", "[log]") {
  for (const LogRotation rotation : {LogRotation::kNone, LogRotation::kSize, LogRotation::kDaily}) {
    test::TempDir dir;
    const fs::path path = dir.path() / "cronhost.log";
    FileLogger file(path, {rotation, 3, 1 << 20});
    file.logger.info("before");
    fs::rename(path, dir.path() / "moved.log");
    file.logger.info("still to the moved file");
    file.sink->reopen();
    file.logger.info("after");
    CHECK_THAT(read(dir.path() / "moved.log"), Catch::Contains("before") && Catch::Contains("still to the moved file"));
    CHECK_THAT(read(path), Catch::Contains("after") && !Catch::Contains("before"));
  }
}

TEST_CASE("a rename that fails keeps the lines in FILE and says so once per max_size", "[log]") {
  test::TempDir dir;
  const fs::path path = dir.path() / "cronhost.log";
  fs::create_directories(dir.path() / "cronhost.log.1" / "blocked");  // a non-empty folder: rename onto it fails
  FileLogger file(path, {LogRotation::kSize, 1, 1024});
  int errors = 0;
  file.logger.set_error_handler([&](const std::string& message) {
    ++errors;
    CHECK_THAT(message, Catch::Contains("cannot rename the log file " + path.string() + " to " + path.string() + ".1"));
  });
  for (int i = 0; i < 40; ++i) file.logger.info("line {:03} of about seventy bytes in the file", i);
  CHECK(errors >= 1);
  CHECK(errors <= 4);  // ~3,800 bytes: a try per 1,024 written, not one per line
  CHECK_THAT(read(path), Catch::Contains("line 000") && Catch::Contains("line 039"));
}
