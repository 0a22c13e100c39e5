// Reads job files: YAML -> schema check -> typed JobSpec, reporting every problem in every
// file at PATH:LINE:COL. Cross-file rules (duplicate names, `after:` targets) included.
// Stateless; safe to call from any thread.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/file_presence.hpp"
#include "config/job_spec.hpp"
#include "config/table_source.hpp"
#include "schedule/zone.hpp"
#include "util/time_format.hpp"

namespace cronhost::config {

class JobFileCache;

struct LoadOptions {
  std::shared_ptr<const schedule::Zone> default_zone = schedule::Zone::utc();
  Instant now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  // A definition a service posted over the API: no ${env:}/${file:} (they would read the
  // host's secrets for the caller) and only run.http (no code from the host's disk).
  bool from_api = false;
};

struct LoadResult {
  std::vector<JobSpec> jobs;  // the jobs without errors, sorted by name
  // With a JobFileCache: the jobs it keeps (read now, or unchanged and taken again unread),
  // shared with it and in no order; the other jobs are in `jobs`.
  std::vector<std::shared_ptr<const JobSpec>> shared_jobs;
  std::vector<TableSource> sources;  // files with source: whose rows make jobs (config/table_source.hpp)
  Diagnostics diagnostics;    // errors and warnings, in file and line order
  size_t files = 0;
  // false: a path was missing or a folder could not be read, so jobs may be missing from
  // `jobs` for no fault of theirs (a reload then keeps the jobs it had).
  bool complete = true;
};

// Every *.yaml / *.yml in `paths` (files, or folders searched recursively). Relative paths
// inside a job resolve against the folder that holds the jobs folder.
// With `cache` (the daemon), files unchanged since its last load are not read again
// (config/job_file_cache.hpp), and the cache is left holding what this load read.
LoadResult load_jobs(const std::vector<std::filesystem::path>& paths, const LoadOptions& options,
                     JobFileCache* cache = nullptr);

// One job from text; `file` names it in messages and gives the default name;
// `base_dir` resolves relative paths. Cross-file rules are not applied.
std::optional<JobSpec> load_job_text(const std::string& file, std::string_view text,
                                     const std::filesystem::path& base_dir, const LoadOptions& options,
                                     Diagnostics& diagnostics);

// One job from a document already read (a table source's template with sample values in):
// the schema check and the typed read, problems at the document's own lines. `files` (when
// given) remembers the scripts and plugins already looked at in this load.
std::optional<JobSpec> load_job_document(const YamlDocument& doc, const std::filesystem::path& base_dir,
                                         const LoadOptions& options, Diagnostics& diagnostics,
                                         FilePresence* files = nullptr);

}  // namespace cronhost::config
