// The process's own CPU, memory and file descriptors, read from /proc/self for /metrics under
// the names Prometheus client libraries use (process_*). Thread-safe: each call reads afresh.
#pragma once
#include <string>

namespace cronhost {

struct ProcessStats {
  double cpu_seconds = 0;        // user plus system time
  double resident_bytes = 0;     // RSS
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;            // the soft RLIMIT_NOFILE
  double start_time_seconds = 0; // Unix time
  bool ok = false;               // false: /proc could not be read (the values are 0)
};

ProcessStats read_process_stats();

// The # HELP / # TYPE and samples of process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds and process_start_time_seconds; nothing when /proc cannot be read.
void render_process_stats(const ProcessStats& stats, std::string& out);

}  // namespace cronhost
