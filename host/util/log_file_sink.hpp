// The host's log file: always at the path the config names (log.file), rotated by cronhost by
// size or by day, or left to logrotate. Any mode reopens the path on reopen() (SIGUSR1), so
// a file renamed from outside is followed by a new one at the same path.
//   size:  before a line would take FILE past max_bytes, FILE.N-1 -> FILE.N ... FILE -> FILE.1,
//          a new FILE; FILE.1 .. FILE.keep are kept.
//   daily: the first line of a new local day renames FILE to FILE.YYYY-MM-DD (the day it
//          holds) and starts a new FILE; the keep newest dated files are kept. The day is the
//          line's own time stamp (spdlog's log_msg::time), so every line lands in the file of the
//          day it says, and a test crosses midnight by logging lines stamped either side. A
//          FILE written on an earlier day (a host stopped over midnight) is renamed by its
//          modification day at the first line.
//   none:  FILE only (logrotate renames it; its postrotate sends SIGUSR1).
// Thread-safety: spdlog's base sink mutex guards everything; reopen() takes it too.
#pragma once
#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

namespace cronhost {

enum class LogRotation { kNone, kSize, kDaily };

struct LogFilePolicy {
  LogRotation rotation = LogRotation::kDaily;
  int keep = 7;                      // old files kept beside FILE (size, daily)
  uint64_t max_bytes = 100ull << 20;  // size: FILE's most
};

class LogFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Opens `path` for appending (creating it and its folder) and removes old files beyond
  // `keep`. Throws spdlog::spdlog_ex when it cannot open.
  LogFileSink(std::filesystem::path path, LogFilePolicy policy);

  // Closes the file and opens its path again for appending. Throws spdlog::spdlog_ex when it
  // cannot (lines then go to the other sinks only, until a reopen succeeds).
  void reopen();

  // "YYYY-MM-DD" of `ms` (Unix milliseconds) in local time: the suffix of a daily file.
  static std::string local_day(int64_t ms);

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override;

 private:
  void open_file(bool truncate);
  // Both rename, open a new FILE and prune; a failed rename throws spdlog_ex after the line is
  // written to the file still open (nothing is lost; the next line tries again).
  void rotate_by_size();
  void rotate_by_day(const std::string& day);
  void prune() const;
  void set_day(int64_t ms);

  const std::filesystem::path path_;
  const LogFilePolicy policy_;
  spdlog::details::file_helper file_;
  bool open_ = false;      // guarded by mutex_
  uint64_t size_ = 0;      // FILE's bytes (size); guarded by mutex_
  std::string day_;        // the local day FILE holds (daily; empty: FILE is empty); guarded by mutex_
  int64_t day_start_ms_ = 0, day_end_ms_ = 0;  // that day's bounds; guarded by mutex_
};

}  // namespace cronhost
