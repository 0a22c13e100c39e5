#include "config/job_catalog.hpp"

#include <set>

namespace cronhost::config {

std::vector<std::shared_ptr<const JobSpec>> JobCatalog::update(LoadResult&& result) {
  std::set<std::string> failed_files;
  for (const auto& d : result.diagnostics)
    if (d.is_error()) failed_files.insert(d.file);
  // The jobs the file cache keeps, nearly all of them, come in file order: each lands at the
  // end of the map with no search (a hint that misses searches as emplace does).
  std::map<std::string, std::shared_ptr<const JobSpec>> next;
  for (auto& job : result.jobs) {
    std::string file = job.file;
    next.emplace_hint(next.end(), std::move(file), std::make_shared<const JobSpec>(std::move(job)));
  }
  for (auto& job : result.shared_jobs) next.emplace_hint(next.end(), job->file, std::move(job));
  kept_.clear();
  if (!failed_files.empty()) {
    std::set<std::string> names;  // a job kept must not take the name of a job that loaded
    for (const auto& [file, job] : next) names.insert(job->name);
    for (const auto& [file, job] : by_file_) {
      if (!failed_files.count(file) || next.count(file) || names.count(job->name)) continue;
      next.emplace(file, job);
      names.insert(job->name);
      kept_.push_back(job->name);
    }
  }
  by_file_ = std::move(next);
  // Table sources likewise: a source file that now fails keeps its last good source.
  std::map<std::string, TableSource> sources;
  for (auto& source : result.sources) {
    std::string file = source.file;
    sources.emplace(std::move(file), std::move(source));
  }
  for (const auto& [file, source] : sources_by_file_)
    if (failed_files.count(file) && !sources.count(file)) sources.emplace(file, source);
  sources_by_file_ = std::move(sources);
  return jobs();
}

std::vector<TableSource> JobCatalog::sources() const {
  std::vector<TableSource> out;
  for (const auto& [file, source] : sources_by_file_) out.push_back(source);
  return out;
}

std::vector<std::shared_ptr<const JobSpec>> JobCatalog::jobs() const {
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  jobs.reserve(by_file_.size());
  for (const auto& [file, job] : by_file_) jobs.push_back(job);
  return jobs;
}

}  // namespace cronhost::config
