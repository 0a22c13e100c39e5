// Lets a reload skip the job files that have not changed since the last load. Reading
// 100,000 files took ~10 s of CPU per SIGHUP, ~85% of it parsing files nobody had touched.
//
// A file is taken again without being read when its stamp (util/file_stamp.hpp: device,
// inode, size, mtime, ctime) is what it was when read, the load's options are the same, and
// its script or plugin is still a file. Only files whose outcome depends on nothing else are
// kept:
//   - a clean job: no error or warning to report again, not a table source;
//   - no "${" in its values as YAML decodes them ("\u0024{" too): a ${file:} secret is
//     read again at each reload (rotation);
//   - no one-shot `at:`: its "in the past" warning depends on the time of the load;
//   - a stamp that will show the next change (stamp_settled: not written within `settle`
//     of the load, on a local file system).
//
// One loader at a time (the daemon's start and reloads); find() and may_keep() may be called
// from its threads.
#pragma once
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/job_spec.hpp"
#include "util/file_stamp.hpp"

namespace cronhost::config {

class JobFileCache {
 public:
  struct Entry {
    FileStamp stamp;           // of the descriptor the text was read from
    Position name_at;          // for a cross-file message naming this file
    Position after_at;
    std::shared_ptr<const JobSpec> job;  // job->file is the entry's key
  };

  explicit JobFileCache(std::chrono::milliseconds settle = std::chrono::seconds(2)) : settle_(settle) {}

  // The job of `file` if the file is unchanged (one stat) since it was read under the same
  // `options_key`; null otherwise. Whether its script or plugin is still there is for the
  // caller to check (once per distinct path: thousands of jobs share one script).
  // Safe to call from several threads at once.
  const Entry* find(std::string_view file, const std::string& options_key) const;

  // Whether the file at `path`, read at `now` through a descriptor with status `st`, may be
  // kept (its stamp settled, above).
  bool may_keep(const std::string& path, const struct stat& st, std::chrono::system_clock::time_point now) const {
    return stamp_settled(path, stamp_of(st), now, settle_);
  }

  // What the next load may reuse: `entries` read under `options_key`.
  void replace(std::vector<Entry> entries, std::string options_key);

  size_t size() const { return entries_.size(); }

 private:
  std::chrono::milliseconds settle_;
  std::string options_key_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, size_t> by_file_;  // job->file -> index in entries_
};

}  // namespace cronhost::config
