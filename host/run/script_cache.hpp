// Script sources kept in memory between runs, so a job firing every second does not open,
// read and close its script each time: one stat tells whether the file is the one read
// before (util/file_stamp.hpp). Thread-safe.
#pragma once
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "util/file_stamp.hpp"

namespace cronhost::run {

class ScriptCache {
 public:
  // A file changed less than `settle` before it was read, or on a file system whose times
  // are not this kernel's, is read again next time (stamp_settled in util/file_stamp.hpp).
  explicit ScriptCache(std::chrono::nanoseconds settle = std::chrono::seconds(2), size_t max_bytes = 64u << 20)
      : settle_(settle), max_bytes_(max_bytes) {}

  // The file's text, shared while it is unchanged; nullptr when it cannot be read (error
  // says why, naming the path). Past max_bytes of sources, new files are read each time.
  std::shared_ptr<const std::string> read(const std::string& path, std::string& error);

 private:
  struct Entry {
    FileStamp stamp;
    std::shared_ptr<const std::string> text;
  };

  const std::chrono::nanoseconds settle_;
  const size_t max_bytes_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mutex_): settled files only
  size_t bytes_ = 0;                                 // GUARDED_BY(mutex_)
};

// The process's cache, for run scripts and the modules they require.
std::shared_ptr<const std::string> read_script(const std::string& path, std::string& error);

}  // namespace cronhost::run
