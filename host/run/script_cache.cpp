#include "run/script_cache.hpp"

#include "util/read_file.hpp"

namespace cronhost::run {

std::shared_ptr<const std::string> ScriptCache::read(const std::string& path, std::string& error) {
  if (const auto now = stamp_file(path)) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(path);
    if (it != entries_.end() && it->second.stamp == *now) return it->second.text;
  }
  auto text = std::make_shared<std::string>();
  struct stat st {};
  if (!read_file(path, *text, st, error)) {
    error = "cannot read the script " + path + ": " + error;
    return nullptr;
  }
  const FileStamp read = stamp_of(st);
  const bool settled = stamp_settled(path, read, std::chrono::system_clock::now(), settle_);
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(path);
  if (it != entries_.end()) {
    bytes_ -= it->second.text->size();
    entries_.erase(it);
  }
  if (settled && bytes_ + text->size() <= max_bytes_) {
    entries_.emplace(path, Entry{read, text});
    bytes_ += text->size();
  }
  return text;
}

std::shared_ptr<const std::string> read_script(const std::string& path, std::string& error) {
  static auto* cache = new ScriptCache();  // never destroyed: runs may end while the process exits
  return cache->read(path, error);
}

}  // namespace cronhost::run
