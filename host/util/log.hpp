// Host logging through spdlog: stderr plus an optional file (daily files, or one file that
// logrotate rotates and SIGUSR1 reopens), as text or JSON lines.
// Thread-safe (spdlog's _mt sinks).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <string_view>

namespace cronhost {

struct LogOptions {
  std::string level = "info";
  bool json = false;
  std::filesystem::path file;  // empty: stderr only
  int keep_days = 7;
  bool daily = true;  // FILE_YYYY-MM-DD, keep_days of them; false: FILE alone (reopen_log_file)
};

// Replaces the default logger. Fails (returns the reason) if the file cannot be opened.
std::string setup_logging(const LogOptions& options);

// After logrotate renamed the file (log.rotate: none): closes it and opens its path again.
// Returns "" once reopened, else why not (no such file: log.rotate: daily; or the open failed).
std::string reopen_log_file();

// One event with fields: text "message key=value ...", or one JSON object per line.
void log_event(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields = nullptr);

}  // namespace cronhost
