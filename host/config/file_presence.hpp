#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cronhost::config {

// Whether paths name regular files, each path looked at once for the life of this object
// (one load of the jobs): 100,000 job files may name one script, and a stat of its path per
// file was ~7% of loading them. Safe to share between the reading threads.
class FilePresence {
 public:
  bool is_regular_file(const std::filesystem::path& path);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, bool> known_;
};

}  // namespace cronhost::config
