// Host logging through spdlog: stderr plus an optional file (util/log_file_sink.hpp: rotated
// by size or by day, or left to logrotate; SIGUSR1 reopens it), every line in one shape
// (util/log_line.hpp): logfmt text or JSON, whichever code logged it.
// Thread-safe (spdlog's _mt sinks).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <string_view>

#include "util/log_file_sink.hpp"

namespace cronhost {

struct LogOptions {
  std::string level = "info";
  bool json = false;
  std::filesystem::path file;  // empty: stderr only
  LogFilePolicy policy;
};

// Replaces the default logger. Fails (returns the reason) if the file cannot be opened.
std::string setup_logging(const LogOptions& options);

// After logrotate (or anyone) renamed the file: closes it and opens its path again. Returns ""
// once reopened, else why not (no log file, or the open failed).
std::string reopen_log_file();

// One event: `message` as the line's msg and `fields` (an object) as its other keys. The
// fields go to the formatter as they are, so every value is escaped the same way.
void log_event(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields = nullptr);

}  // namespace cronhost
