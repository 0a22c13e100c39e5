// Whether a file is still the one read before, told by one stat: device, inode, size, mtime
// and ctime (nobody can set ctime: `touch -d`, `cp -p` and tar change it). For the caches
// that skip reading a file again: scripts (run/script_cache.hpp) and job files
// (config/job_file_cache.hpp). Thread-safe.
#pragma once
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace cronhost {

struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of a status read from a descriptor (read_file fills one).
FileStamp stamp_of(const struct stat& st);

// The stamp of the regular file at `path` now (symlinks followed), or nothing. Taken with
// statx(AT_STATX_FORCE_SYNC): an NFS client's cached attributes (up to 60 s old) would
// show an edited file as unchanged.
std::optional<FileStamp> stamp_file(const std::string& path);

// Whether a stamp taken when the file was read at `now` will show the file's next change:
//   - written more than `settle` before: file times tick with the kernel's coarse clock
//     (4 ms here), so a same-size rewrite within one tick would keep every time (git's
//     "racily clean" entries);
//   - on a local file system whose times the kernel sets (ext4, xfs, btrfs, f2fs, zfs,
//     tmpfs, overlayfs): on NFS, SMB or FUSE they come from another clock, or coarsely.
bool stamp_settled(const std::string& path, const FileStamp& stamp, std::chrono::system_clock::time_point now,
                   std::chrono::nanoseconds settle);

}  // namespace cronhost
