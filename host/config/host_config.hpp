// The operator's host config (cronhost.yaml): where things live and how the host behaves.
// Loaded once at start (and on SIGHUP, later); plain data afterwards.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <algorithm>
#include <string>
#include <thread>

#include "config/diagnostic.hpp"
#include "schedule/zone.hpp"
#include "util/duration.hpp"

namespace cronhost::config {

struct LogSettings {
  std::string level = "info";
  std::string format = "text";  // text | json
  std::filesystem::path file;   // empty: stderr only
  int keep_days = 7;
};

struct HostConfig {
  std::filesystem::path source;  // the file read, or empty for built-in defaults
  std::filesystem::path jobs_dir = "jobs.d";
  std::filesystem::path state_file = "cronhost.db";
  std::shared_ptr<const schedule::Zone> timezone = schedule::Zone::utc();
  int workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Millis shutdown_grace = std::chrono::seconds(30);
  LogSettings log;
  size_t run_memory_bytes = size_t{64} << 20;
  size_t run_output_bytes = size_t{64} << 10;
  int history_keep_days = 90;
  int history_keep_per_job = 10'000;
};

// Reads `path`; relative paths inside resolve against the file's folder. Problems are
// appended to `diagnostics` and nothing is returned if any is an error.
std::optional<HostConfig> load_host_config(const std::filesystem::path& path, Diagnostics& diagnostics);

}  // namespace cronhost::config
