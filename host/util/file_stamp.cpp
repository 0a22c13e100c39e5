#include "util/file_stamp.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace cronhost {
namespace {

int64_t nanoseconds(int64_t seconds, int64_t nanos) { return seconds * 1'000'000'000 + nanos; }

bool times_set_by_this_kernel(unsigned long file_system) {
  constexpr unsigned long kZfsMagic = 0x2fc12fc1;  // not in linux/magic.h
  switch (file_system) {
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
    case kZfsMagic:
      return true;
    default:
      return false;
  }
}

// Asked once per device: a statfs for each of 100,000 job files would cost as much as the stats.
bool on_local_file_system(const std::string& path, uint64_t device) {
  static std::mutex mutex;
  static std::unordered_map<uint64_t, bool> local;  // GUARDED_BY(mutex)
  std::lock_guard lock(mutex);
  if (const auto it = local.find(device); it != local.end()) return it->second;
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return false;  // the file is gone: ask again next time
  return local[device] = times_set_by_this_kernel(static_cast<unsigned long>(fs.f_type));
}

}  // namespace

FileStamp stamp_of(const struct stat& st) {
  return {.device = static_cast<uint64_t>(st.st_dev),
          .inode = static_cast<uint64_t>(st.st_ino),
          .size = static_cast<int64_t>(st.st_size),
          .mtime_ns = nanoseconds(st.st_mtim.tv_sec, st.st_mtim.tv_nsec),
          .ctime_ns = nanoseconds(st.st_ctim.tv_sec, st.st_ctim.tv_nsec)};
}

std::optional<FileStamp> stamp_file(const std::string& path) {
  struct statx st {};
  if (::statx(AT_FDCWD, path.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &st) != 0 || !S_ISREG(st.stx_mode))
    return std::nullopt;
  return FileStamp{.device = static_cast<uint64_t>(makedev(st.stx_dev_major, st.stx_dev_minor)),
                   .inode = st.stx_ino,
                   .size = static_cast<int64_t>(st.stx_size),
                   .mtime_ns = nanoseconds(st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
                   .ctime_ns = nanoseconds(st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec)};
}

bool stamp_settled(const std::string& path, const FileStamp& stamp, std::chrono::system_clock::time_point now,
                   std::chrono::nanoseconds settle) {
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  return stamp.size >= 0 && std::max(stamp.mtime_ns, stamp.ctime_ns) + settle.count() < now_ns &&
         on_local_file_system(path, stamp.device);
}

}  // namespace cronhost
