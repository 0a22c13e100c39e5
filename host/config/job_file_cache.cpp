#include "config/job_file_cache.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

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
  struct statx st {};
  if (::statx(AT_FDCWD, path.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &st) != 0 || !S_ISREG(st.stx_mode))
    return std::nullopt;
  constexpr int64_t kNs = 1'000'000'000;
  return FileStamp{.device = static_cast<uint64_t>(makedev(st.stx_dev_major, st.stx_dev_minor)),
                   .inode = st.stx_ino,
                   .size = static_cast<int64_t>(st.stx_size),
                   .mtime_ns = static_cast<int64_t>(st.stx_mtime.tv_sec) * kNs + st.stx_mtime.tv_nsec,
                   .ctime_ns = static_cast<int64_t>(st.stx_ctime.tv_sec) * kNs + st.stx_ctime.tv_nsec};
}

const JobFileCache::Entry* JobFileCache::find(std::string_view file, const std::string& options_key) const {
  if (options_key != options_key_) return nullptr;
  const auto it = by_file_.find(file);
  if (it == by_file_.end()) return nullptr;
  const Entry& entry = entries_[it->second];
  const auto now = stamp_file(entry.job->file);
  return now && *now == entry.stamp ? &entry : nullptr;
}

bool JobFileCache::may_keep(const std::string& path, const struct stat& st, std::chrono::system_clock::time_point now) {
  const FileStamp stamp = stamp_of(st);
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const int64_t settle_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(settle_).count();
  return stamp.size >= 0 && std::max(stamp.mtime_ns, stamp.ctime_ns) + settle_ns < now_ns &&
         trusted_file_system(path, stamp.device);
}

bool JobFileCache::trusted_file_system(const std::string& path, uint64_t device) {
  std::lock_guard lock(devices_mutex_);
  if (const auto it = trusted_devices_.find(device); it != trusted_devices_.end()) return it->second;
  constexpr unsigned long kZfsMagic = 0x2fc12fc1;  // not in linux/magic.h
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return false;  // the file is gone: ask again next time
  bool trusted = false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
    case kZfsMagic:
      trusted = true;
  }
  return trusted_devices_[device] = trusted;
}

void JobFileCache::replace(std::vector<Entry> entries, std::string options_key) {
  by_file_.clear();
  entries_ = std::move(entries);
  by_file_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) by_file_.emplace(entries_[i].job->file, i);
  options_key_ = std::move(options_key);
}

}  // namespace cronhost::config
