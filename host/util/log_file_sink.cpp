#include "util/log_file_sink.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <vector>

namespace cronhost {
namespace fs = std::filesystem;
namespace {

bool is_day_suffix(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool is_number_suffix(std::string_view s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

fs::path with_suffix(const fs::path& path, const std::string& suffix) {
  return fs::path(path.string() + "." + suffix);
}

std::string describe(const fs::path& from, const fs::path& to, const std::error_code& ec) {
  return "cannot rename the log file " + from.string() + " to " + to.string() + ": " + ec.message();
}

// Moves FILE to a dated file; when that is already there (a restart, a clock set back) FILE's
// lines are appended to it instead, so one day stays one file and nothing is overwritten.
void move_to_dated(const fs::path& path, const fs::path& dated) {
  std::error_code ec;
  if (!fs::exists(dated, ec)) {
    fs::rename(path, dated, ec);
    if (ec) throw spdlog::spdlog_ex(describe(path, dated, ec));
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::ofstream out(dated, std::ios::binary | std::ios::app);
  out << in.rdbuf();
  if (!in || !out) throw spdlog::spdlog_ex("cannot append the log file " + path.string() + " to " + dated.string());
  out.close();
  fs::resize_file(path, 0, ec);
}

int64_t modified_ms(const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

std::tm local_tm(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm local{};
  localtime_r(&t, &local);
  return local;
}

}  // namespace

std::string LogFileSink::local_day(int64_t ms) {
  const std::tm local = local_tm(ms);
  char text[48];  // room for any int the compiler cannot rule out (-Wformat-truncation)
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", local.tm_year + 1900, local.tm_mon + 1, local.tm_mday);
  return text;
}

LogFileSink::LogFileSink(fs::path path, LogFilePolicy policy) : path_(std::move(path)), policy_(policy) {
  open_file(false);
  std::error_code ec;
  if (policy_.rotation == LogRotation::kDaily && fs::file_size(path_, ec) > 0 && !ec) set_day(modified_ms(path_));
  prune();
}

void LogFileSink::open_file(bool truncate) {
  open_ = false;
  file_.open(path_.string(), truncate);
  open_ = true;
  size_ = file_.size();
}

void LogFileSink::reopen() {
  std::lock_guard lock(mutex_);
  open_file(false);
}

void LogFileSink::set_day(int64_t ms) {
  std::tm start = local_tm(ms);
  day_ = local_day(ms);
  start.tm_hour = start.tm_min = start.tm_sec = 0;
  start.tm_isdst = -1;  // midnight's own offset, not that of `ms` (a DST change that day)
  std::tm end = start;
  ++end.tm_mday;        // mktime carries into the month and year
  day_start_ms_ = int64_t{std::mktime(&start)} * 1000;
  day_end_ms_ = int64_t{std::mktime(&end)} * 1000;
}

void LogFileSink::rotate_by_size() {
  std::error_code ec;
  for (int i = policy_.keep - 1; i >= 1; --i) {
    const fs::path from = with_suffix(path_, std::to_string(i)), to = with_suffix(path_, std::to_string(i + 1));
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, to, ec);
    if (ec) throw spdlog::spdlog_ex(describe(from, to, ec));
  }
  const fs::path first = with_suffix(path_, "1");
  fs::rename(path_, first, ec);
  if (ec) throw spdlog::spdlog_ex(describe(path_, first, ec));
  open_file(true);
  prune();
}

void LogFileSink::rotate_by_day(const std::string& day) {
  file_.flush();
  move_to_dated(path_, with_suffix(path_, day));
  open_file(true);
  prune();
}

void LogFileSink::prune() const {
  const std::string prefix = path_.filename().string() + ".";
  const fs::path folder = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  std::vector<fs::path> dated;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view suffix = std::string_view(name).substr(prefix.size());
    if (policy_.rotation == LogRotation::kSize && is_number_suffix(suffix) &&
        std::stol(std::string(suffix)) > policy_.keep)
      fs::remove(entry.path(), ec);
    else if (policy_.rotation == LogRotation::kDaily && is_day_suffix(suffix))
      dated.push_back(entry.path());
  }
  if (dated.size() <= static_cast<size_t>(policy_.keep)) return;
  std::sort(dated.begin(), dated.end());  // oldest first: the dates sort as text
  for (size_t i = 0; i + policy_.keep < dated.size(); ++i) fs::remove(dated[i], ec);
}

void LogFileSink::sink_it_(const spdlog::details::log_msg& message) {
  if (!open_) return;
  spdlog::memory_buf_t formatted;
  formatter_->format(message, formatted);
  std::string problem;
  try {
    if (policy_.rotation == LogRotation::kDaily) {
      const int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(message.time.time_since_epoch()).count();
      if (day_.empty()) {
        set_day(at);
      } else if (at < day_start_ms_ || at >= day_end_ms_) {
        const std::string ended = day_;
        set_day(at);  // a failed rename is tried again on the next day, not at every line
        if (day_ != ended) rotate_by_day(ended);
      }
    } else if (policy_.rotation == LogRotation::kSize && size_ > 0 && size_ + formatted.size() > policy_.max_bytes) {
      size_ = 0;  // a failed rename is tried again after another max_bytes, not at every line
      rotate_by_size();
    }
  } catch (const spdlog::spdlog_ex& e) {
    problem = e.what();
  }
  if (!open_) throw spdlog::spdlog_ex(problem + " (no log file until SIGUSR1 reopens it)");
  file_.write(formatted);
  size_ += formatted.size();
  if (!problem.empty()) throw spdlog::spdlog_ex(problem);  // the logger's error handler says so
}

void LogFileSink::flush_() {
  if (open_) file_.flush();
}

}  // namespace cronhost
