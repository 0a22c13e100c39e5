#include "config/job_file_cache.hpp"

namespace cronhost::config {

const JobFileCache::Entry* JobFileCache::find(std::string_view file, const std::string& options_key) const {
  if (options_key != options_key_) return nullptr;
  const auto it = by_file_.find(file);
  if (it == by_file_.end()) return nullptr;
  const Entry& entry = entries_[it->second];
  const auto now = stamp_file(entry.job->file);
  return now && *now == entry.stamp ? &entry : nullptr;
}

void JobFileCache::replace(std::vector<Entry> entries, std::string options_key) {
  by_file_.clear();
  entries_ = std::move(entries);
  entries_.shrink_to_fit();  // the loader reserves for every file; few may be kept
  by_file_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) by_file_.emplace(entries_[i].job->file, i);
  options_key_ = std::move(options_key);
}

}  // namespace cronhost::config
