// Host logging through spdlog: stderr plus an optional daily file, as text or JSON lines.
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
};

// Replaces the default logger. Fails (returns the reason) if the file cannot be opened.
std::string setup_logging(const LogOptions& options);

// One event with fields: text "message key=value ...", or one JSON object per line.
void log_event(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields = nullptr);

}  // namespace cronhost
