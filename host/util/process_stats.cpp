#include "util/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace cronhost {
namespace {

// Fields of /proc/self/stat after the command name (which may hold spaces and parentheses,
// so the split starts after its last ')'); field 3 (state) is the first.
std::vector<std::string> stat_fields() {
  std::ifstream file("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double boot_time_seconds() {
  std::ifstream file("/proc/stat");
  for (std::string line; std::getline(file, line);)
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  return 0;
}

std::string number(double value) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats stats;
  const auto fields = stat_fields();
  // man 5 proc: utime is field 14, stime 15, starttime 22, vsize 23, rss 24 (1-based).
  if (fields.size() < 22) return stats;
  try {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    const auto field = [&](int number) { return std::stod(fields[static_cast<size_t>(number - 3)]); };
    // From the clock, not /proc's ticks: at 10 ms a tick, a host that had used less than one
    // reported 0 s.
    timespec cpu{};
    stats.cpu_seconds = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0
                            ? static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9
                            : (field(14) + field(15)) / ticks;
    stats.start_time_seconds = boot_time_seconds() + field(22) / ticks;
    stats.virtual_bytes = field(23);
    stats.resident_bytes = field(24) * page;
  } catch (const std::exception&) {
    return stats;
  }
  std::error_code ec;
  size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
  stats.open_fds = fds > 0 ? static_cast<double>(fds - 1) : 0;  // less the iterator's own
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
    stats.max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<double>(limit.rlim_cur);
  stats.ok = true;
  return stats;
}

void render_process_stats(const ProcessStats& stats, std::string& out) {
  if (!stats.ok) return;
  const auto metric = [&out](const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           number(value) + "\n";
  };
  metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", stats.cpu_seconds);
  metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", stats.resident_bytes);
  metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stats.virtual_bytes);
  metric("process_open_fds", "gauge", "Number of open file descriptors.", stats.open_fds);
  metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", stats.max_fds);
  metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
         stats.start_time_seconds);
}

}  // namespace cronhost
