#include "config/job_catalog.hpp"

#include <set>

namespace cronhost::config {

std::vector<JobSpec> JobCatalog::update(const LoadResult& result) {
  std::set<std::string> failed_files;
  for (const auto& d : result.diagnostics)
    if (d.is_error()) failed_files.insert(d.file);
  std::map<std::string, JobSpec> next;
  std::set<std::string> names;
  for (const auto& job : result.jobs) {
    next.emplace(job.file, job);
    names.insert(job.name);
  }
  kept_.clear();
  for (const auto& [file, job] : by_file_) {
    if (!failed_files.count(file) || next.count(file) || names.count(job.name)) continue;
    next.emplace(file, job);
    names.insert(job.name);
    kept_.push_back(job.name);
  }
  by_file_ = std::move(next);
  std::vector<JobSpec> jobs;
  for (const auto& [file, job] : by_file_) jobs.push_back(job);
  return jobs;
}

}  // namespace cronhost::config
