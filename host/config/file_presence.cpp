#include "config/file_presence.hpp"

namespace cronhost::config {

bool FilePresence::is_regular_file(const std::filesystem::path& path) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = known_.find(path.native()); it != known_.end()) return it->second;
  }
  std::error_code ec;  // looked at outside the lock; two threads asking at once agree anyway
  const bool present = std::filesystem::is_regular_file(path, ec);
  std::lock_guard lock(mutex_);
  return known_.try_emplace(path.native(), present).first->second;
}

}  // namespace cronhost::config
