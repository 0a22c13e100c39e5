#include "run/script_cache.hpp"

#include <ctime>

#include "util/read_file.hpp"

namespace cronhost::run {
namespace {

std::chrono::nanoseconds since_epoch(const timespec& t) {
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

}  // namespace

bool ScriptCache::Identity::operator==(const Identity& o) const {
  return device == o.device && inode == o.inode && size == o.size && modified.tv_sec == o.modified.tv_sec &&
         modified.tv_nsec == o.modified.tv_nsec && changed.tv_sec == o.changed.tv_sec &&
         changed.tv_nsec == o.changed.tv_nsec;
}

std::shared_ptr<const std::string> ScriptCache::read(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    const Identity now{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(path);
    if (it != entries_.end() && it->second.identity == now) return it->second.text;
  }
  auto text = std::make_shared<std::string>();
  if (!read_file(path, *text, st, error)) {
    error = "cannot read the script " + path + ": " + error;
    return nullptr;
  }
  timespec read_at{};
  ::clock_gettime(CLOCK_REALTIME, &read_at);
  const bool settled = st.st_size >= 0 && since_epoch(read_at) - since_epoch(st.st_ctim) >= settle_ &&
                       since_epoch(read_at) - since_epoch(st.st_mtim) >= settle_;
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(path);
  if (it != entries_.end()) {
    bytes_ -= it->second.text->size();
    entries_.erase(it);
  }
  if (settled && bytes_ + text->size() <= max_bytes_) {
    entries_.emplace(path, Entry{{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim}, text});
    bytes_ += text->size();
  }
  return text;
}

std::shared_ptr<const std::string> read_script(const std::string& path, std::string& error) {
  static auto* cache = new ScriptCache();  // never destroyed: runs may end while the process exits
  return cache->read(path, error);
}

}  // namespace cronhost::run
