// The jobs a running host uses, across reloads: each job file's last good definition.
// A file that now fails validation keeps its previous job; a file that is gone drops it.
// Not thread-safe: owned by the daemon's control thread.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/job_file_cache.hpp"
#include "config/job_loader.hpp"

namespace cronhost::config {

class JobCatalog {
 public:
  // Takes a fresh load and returns the jobs to run: every valid job, plus the last good
  // version of each job whose file now has errors (unless a valid job took its name).
  // Definitions are shared, not copied: 100,000 jobs are held once.
  std::vector<std::shared_ptr<const JobSpec>> update(LoadResult&& result);

  // The jobs of the last update (what the host runs now).
  std::vector<std::shared_ptr<const JobSpec>> jobs() const;

  // Jobs kept from earlier loads because their files now fail, by name (for the log).
  const std::vector<std::string>& kept() const { return kept_; }

  // The table sources of the last update (a failing source file keeps its last good source).
  std::vector<TableSource> sources() const;

  // For load_jobs: the files the last load read, so that a reload skips those unchanged.
  JobFileCache& file_cache() { return file_cache_; }

 private:
  std::map<std::string, std::shared_ptr<const JobSpec>> by_file_;
  std::map<std::string, TableSource> sources_by_file_;
  std::vector<std::string> kept_;
  JobFileCache file_cache_;
};

}  // namespace cronhost::config
