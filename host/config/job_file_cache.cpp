#include "config/job_file_cache.hpp"

#include <algorithm>

namespace cronhost::config {

FileStamp stamp_of(const struct stat& st) {
  constexpr int64_t kNs = 1'000'000'000;
  return {.device = static_cast<uint64_t>(st.st_dev),
          .inode = static_cast<uint64_t>(st.st_ino),
          .size = static_cast<int64_t>(st.st_size),
          .mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * kNs + st.st_mtim.tv_nsec,
          .ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * kNs + st.st_ctim.tv_nsec};
}

std::optional<FileStamp> stamp_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return stamp_of(st);
}

const JobFileCache::Entry* JobFileCache::find(std::string_view file, const std::string& options_key) const {
  if (options_key != options_key_) return nullptr;
  const auto it = by_file_.find(file);
  if (it == by_file_.end()) return nullptr;
  const Entry& entry = entries_[it->second];
  const auto now = stamp_file(entry.job->file);
  return now && *now == entry.stamp ? &entry : nullptr;
}

bool JobFileCache::settled(const FileStamp& stamp, std::chrono::system_clock::time_point now) const {
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const int64_t settle_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(settle_).count();
  return std::max(stamp.mtime_ns, stamp.ctime_ns) + settle_ns < now_ns;
}

void JobFileCache::replace(std::vector<Entry> entries, std::string options_key) {
  by_file_.clear();
  entries_ = std::move(entries);
  by_file_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) by_file_.emplace(entries_[i].job->file, i);
  options_key_ = std::move(options_key);
}

}  // namespace cronhost::config
