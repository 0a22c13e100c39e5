#include "dispatch/run_metrics.hpp"

#include <algorithm>
#include <cstdio>

#include "util/escape.hpp"

namespace cronhost::dispatch {
namespace {

using store::RunStatus;

// The statuses a run ends with: each job shows all of them, zeros included, so a rate() over
// a status that never happened yet is 0, not absent.
constexpr std::array<RunStatus, 6> kEndStatuses = {RunStatus::kSucceeded, RunStatus::kFailed,    RunStatus::kTimedOut,
                                                   RunStatus::kSkipped,   RunStatus::kCancelled, RunStatus::kInterrupted};

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

std::string seconds(int64_t ms) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", static_cast<double>(ms) / 1000.0);
  return buffer;
}

size_t bucket_of(int64_t ms) {
  const double s = static_cast<double>(std::max<int64_t>(0, ms)) / 1000.0;
  return static_cast<size_t>(std::lower_bound(kBucketBounds.begin(), kBucketBounds.end(), s) - kBucketBounds.begin());
}

void observe(std::array<uint64_t, kBucketBounds.size()>& buckets, uint64_t& count, int64_t& sum_ms, int64_t ms) {
  ms = std::max<int64_t>(0, ms);
  if (const size_t i = bucket_of(ms); i < buckets.size()) ++buckets[i];
  ++count;
  sum_ms += ms;
}

// The folded jobs' sum: counts add up; the timestamps are the oldest (a stale job among them
// keeps "last success too old" firing) and the next fire the earliest.
void fold_into(RunMetrics::JobStats& sum, const RunMetrics::JobStats& job, bool first) {
  for (size_t i = 0; i < sum.runs.size(); ++i) sum.runs[i] += job.runs[i];
  sum.missed += job.missed;
  for (size_t i = 0; i < sum.duration.size(); ++i) {
    sum.duration[i] += job.duration[i];
    sum.lateness[i] += job.lateness[i];
  }
  sum.duration_count += job.duration_count;
  sum.lateness_count += job.lateness_count;
  sum.duration_sum_ms += job.duration_sum_ms;
  sum.lateness_sum_ms += job.lateness_sum_ms;
  sum.last_run_ms = first ? job.last_run_ms : std::min(sum.last_run_ms, job.last_run_ms);
  sum.last_success_ms = first ? job.last_success_ms : std::min(sum.last_success_ms, job.last_success_ms);
  if (job.next_fire_ms && (!sum.next_fire_ms || job.next_fire_ms < sum.next_fire_ms)) sum.next_fire_ms = job.next_fire_ms;
}

struct Series {
  std::string label;  // job="..." escaped
  RunMetrics::JobStats stats;
};

void histogram(const std::vector<Series>& series, const char* name, size_t shown, bool duration, std::string& out) {
  for (const auto& s : series) {
    const auto& buckets = duration ? s.stats.duration : s.stats.lateness;
    const uint64_t count = duration ? s.stats.duration_count : s.stats.lateness_count;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < shown; ++i) {
      cumulative += buckets[i];
      out += std::string(name) + "_bucket{" + s.label + ",le=\"" + number(kBucketBounds[i]) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += std::string(name) + "_bucket{" + s.label + ",le=\"+Inf\"} " + std::to_string(count) + "\n";
    out += std::string(name) + "_sum{" + s.label + "} " +
           seconds(duration ? s.stats.duration_sum_ms : s.stats.lateness_sum_ms) + "\n";
    out += std::string(name) + "_count{" + s.label + "} " + std::to_string(count) + "\n";
  }
}

}  // namespace

std::string prometheus_label(std::string_view value) { return backslash_escaped(value); }

void RunMetrics::started(const std::string& job, int64_t lateness_ms) {
  std::lock_guard lock(mutex_);
  auto& s = jobs_[job];
  observe(s.lateness, s.lateness_count, s.lateness_sum_ms, lateness_ms);
}

void RunMetrics::finished(const std::string& job, RunStatus status, int64_t duration_ms, int64_t end_ms) {
  std::lock_guard lock(mutex_);
  auto& s = jobs_[job];
  ++s.runs[static_cast<size_t>(status)];
  observe(s.duration, s.duration_count, s.duration_sum_ms, duration_ms);
  s.last_run_ms = std::max(s.last_run_ms, end_ms);
  if (status == RunStatus::kSucceeded) s.last_success_ms = std::max(s.last_success_ms, end_ms);
}

void RunMetrics::skipped(const std::string& job) {
  std::lock_guard lock(mutex_);
  ++jobs_[job].runs[static_cast<size_t>(RunStatus::kSkipped)];
}

void RunMetrics::missed(const std::string& job, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  ++jobs_[job].missed;
  recent_missed_.emplace_back(at_ms, job);
  // Kept for an hour past the newest, the longest look-back /health takes.
  while (!recent_missed_.empty() && recent_missed_.front().first < at_ms - 3'600'000) recent_missed_.pop_front();
}

std::map<std::string, int> RunMetrics::missed_since(int64_t from_ms) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, int> jobs;
  for (const auto& [at, job] : recent_missed_)
    if (at >= from_ms) ++jobs[job];
  return jobs;
}

void RunMetrics::seed(const std::string& job, int64_t last_run_ms, int64_t last_success_ms) {
  std::lock_guard lock(mutex_);
  auto& s = jobs_[job];
  s.last_run_ms = std::max(s.last_run_ms, last_run_ms);
  s.last_success_ms = std::max(s.last_success_ms, last_success_ms);
}

void RunMetrics::render(const std::vector<MetricsJob>& jobs, std::string& out) const {
  // Labelled: the first max_jobs by name; the rest summed into one series.
  std::vector<const MetricsJob*> sorted;
  sorted.reserve(jobs.size());
  for (const auto& job : jobs) sorted.push_back(&job);
  std::sort(sorted.begin(), sorted.end(), [](const MetricsJob* a, const MetricsJob* b) { return a->name < b->name; });
  const size_t cap = max_jobs_.load(std::memory_order_relaxed);
  const size_t labelled = cap == 0 ? sorted.size() : std::min(cap, sorted.size());
  int64_t longest_timeout_ms = 60'000;
  std::vector<Series> series;
  series.reserve(labelled + 1);
  {
    std::lock_guard lock(mutex_);
    static const JobStats kNone{};
    for (size_t i = 0; i < sorted.size(); ++i) {
      const MetricsJob& job = *sorted[i];
      longest_timeout_ms = std::max(longest_timeout_ms, job.timeout_ms);
      const auto found = jobs_.find(job.name);
      JobStats stats = found == jobs_.end() ? kNone : found->second;
      stats.next_fire_ms = job.next_fire_ms;
      if (i < labelled) {
        series.push_back({"job=\"" + prometheus_label(job.name) + "\"", stats});
      } else {
        if (i == labelled) series.push_back({std::string("job=\"") + kFoldedJobLabel + "\"", {}});
        fold_into(series.back().stats, stats, i == labelled);
      }
    }
  }
  const auto gauge_per_job = [&](const char* name, const char* help, int64_t JobStats::*field) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
    for (const auto& s : series) out += std::string(name) + "{" + s.label + "} " + seconds(s.stats.*field) + "\n";
  };
  gauge_per_job("cronhost_job_last_run_timestamp_seconds",
                "When the job's last run ended (Unix time; 0: never, as far as the state remembers).",
                &JobStats::last_run_ms);
  gauge_per_job("cronhost_job_last_success_timestamp_seconds",
                "When the job's last successful run ended (Unix time; 0: never, as far as the state remembers).",
                &JobStats::last_success_ms);
  gauge_per_job("cronhost_job_next_fire_timestamp_seconds",
                "The job's next schedule slot (Unix time; 0: none: not fired by time, disabled, or an executor host).",
                &JobStats::next_fire_ms);
  out += "# HELP cronhost_runs_total Runs that ended, by job and status (since the host started).\n"
         "# TYPE cronhost_runs_total counter\n";
  for (const auto& s : series)
    for (const RunStatus status : kEndStatuses)
      out += "cronhost_runs_total{" + s.label + ",status=\"" + std::string(store::to_string(status)) + "\"} " +
             std::to_string(s.stats.runs[static_cast<size_t>(status)]) + "\n";
  out += "# HELP cronhost_job_missed_total Slots that did not start within their grace (since the host started).\n"
         "# TYPE cronhost_job_missed_total counter\n";
  for (const auto& s : series) out += "cronhost_job_missed_total{" + s.label + "} " + std::to_string(s.stats.missed) + "\n";
  // Buckets up to the first bound at or past the longest timeout (the last bound at most).
  const size_t shown =
      std::min(kBucketBounds.size(), bucket_of(longest_timeout_ms) + 1);
  out += "# HELP cronhost_run_duration_seconds How long runs took, by job.\n"
         "# TYPE cronhost_run_duration_seconds histogram\n";
  histogram(series, "cronhost_run_duration_seconds", shown, true, out);
  out += "# HELP cronhost_fire_lateness_seconds From a fire's due time to its run's start, by job.\n"
         "# TYPE cronhost_fire_lateness_seconds histogram\n";
  histogram(series, "cronhost_fire_lateness_seconds", shown, false, out);
  out += std::string("# HELP cronhost_metrics_jobs_folded Jobs beyond metrics.max_jobs, summed under job=\"") +
         kFoldedJobLabel + "\".\n# TYPE cronhost_metrics_jobs_folded gauge\ncronhost_metrics_jobs_folded " +
         std::to_string(sorted.size() - labelled) + "\n";
}

}  // namespace cronhost::dispatch
