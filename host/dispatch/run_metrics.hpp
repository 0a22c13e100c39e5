// Per-job counters, timestamps and histograms of runs for /metrics: runs by job and status,
// last run and last success, run durations and fire lateness, slots missed. Thread-safe:
// workers record, the HTTP server renders; one mutex guards the per-job table, held for a map
// lookup and a few additions per call.
#pragma once
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/records.hpp"

namespace cronhost::dispatch {

// Upper bounds of the duration and lateness buckets, in seconds. A render shows those up to
// the first one at or past the longest timeout of the loaded jobs (at least 60 s), so a job
// that runs near its timeout still lands in a finite bucket; 7 days caps it.
inline constexpr std::array<double, 26> kBucketBounds = {
    0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,   1,     2.5,   5,     10,    30,     60,
    120,   300,  600,   1200, 1800, 3600, 7200,  14400, 28800, 43200, 86400, 172800, 604800};

// The label value of the jobs beyond metrics.max_jobs, summed into one series. Job names
// start with a letter or digit, so no job is called this.
inline constexpr const char* kFoldedJobLabel = "_other";

// A loaded job as /metrics shows it: from the scheduler at render time, so removed jobs
// disappear and new ones appear before their first run.
struct MetricsJob {
  std::string name;
  int64_t next_fire_ms = 0;  // the next schedule slot; 0: none (not by time, disabled, executor)
  int64_t timeout_ms = 0;
};

class RunMetrics {
 public:
  // A run started `lateness_ms` after its due time.
  void started(const std::string& job, int64_t lateness_ms);
  // A run ended at `end_ms` after `duration_ms`.
  void finished(const std::string& job, store::RunStatus status, int64_t duration_ms, int64_t end_ms);
  // A slot recorded as skipped (concurrency) counts as a run with that status.
  void skipped(const std::string& job);
  // A slot that did not start within its grace (notify: missed), seen at `at_ms`.
  void missed(const std::string& job, int64_t at_ms);
  // Jobs with slots missed at or after `from_ms`, and how many each (for /health).
  std::map<std::string, int> missed_since(int64_t from_ms) const;
  // The last run's end and the last success's end known from the state (0: none), so the
  // timestamps survive a restart; a newer one recorded since is kept.
  void seed(const std::string& job, int64_t last_run_ms, int64_t last_success_ms);
  // Jobs beyond this many (by name) are summed under kFoldedJobLabel; 0: no limit.
  void set_max_jobs(size_t max_jobs) { max_jobs_.store(max_jobs, std::memory_order_relaxed); }
  // # HELP / # TYPE and the samples of the per-job series for `jobs` (every one present, with
  // zeros before its first run): cronhost_job_last_run_timestamp_seconds,
  // cronhost_job_last_success_timestamp_seconds, cronhost_job_next_fire_timestamp_seconds,
  // cronhost_runs_total, cronhost_job_missed_total, cronhost_run_duration_seconds,
  // cronhost_fire_lateness_seconds and cronhost_metrics_jobs_folded.
  void render(const std::vector<MetricsJob>& jobs, std::string& out) const;

  // One job's numbers (also the sum of the folded jobs).
  struct JobStats {
    std::array<uint64_t, 8> runs{};  // by store::RunStatus
    uint64_t missed = 0;
    int64_t last_run_ms = 0, last_success_ms = 0, next_fire_ms = 0;
    std::array<uint64_t, kBucketBounds.size()> duration{}, lateness{};  // not cumulative
    uint64_t duration_count = 0, lateness_count = 0;
    int64_t duration_sum_ms = 0, lateness_sum_ms = 0;
  };

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, JobStats> jobs_;  // every job seen or seeded, loaded or not
  std::deque<std::pair<int64_t, std::string>> recent_missed_;  // (at, job) within the last hour
  std::atomic<size_t> max_jobs_{500};
};

// A label value escaped for the text format (backslash, quote, newline).
std::string prometheus_label(std::string_view value);

}  // namespace cronhost::dispatch
