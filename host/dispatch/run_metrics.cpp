#include "dispatch/run_metrics.hpp"

#include <cstdio>

#include "util/escape.hpp"

namespace cronhost::dispatch {
namespace {

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

}  // namespace

std::string prometheus_label(std::string_view value) { return backslash_escaped(value); }

template <size_t N>
void Histogram<N>::observe_ms(int64_t ms) {
  ms = std::max<int64_t>(0, ms);
  size_t i = 0;
  while (i < N && static_cast<double>(ms) / 1000.0 > bounds_[i]) ++i;
  if (i < N) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ms_.fetch_add(ms, std::memory_order_relaxed);
}

template <size_t N>
void Histogram<N>::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < N; ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_.load()) + "\n";
  out += name + "_sum " + number(static_cast<double>(sum_ms_.load()) / 1000.0) + "\n";
  out += name + "_count " + std::to_string(count_.load()) + "\n";
}

void RunMetrics::finished(const std::string& job, store::RunStatus status, int64_t duration_ms) {
  duration_.observe_ms(duration_ms);
  std::lock_guard lock(mutex_);
  ++runs_[job][static_cast<size_t>(status)];
}

void RunMetrics::missed(const std::string& job, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  ++missed_[job];
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

void RunMetrics::skipped(const std::string& job) {
  std::lock_guard lock(mutex_);
  ++runs_[job][static_cast<size_t>(store::RunStatus::kSkipped)];
}

void RunMetrics::render(std::string& out) const {
  out += "# HELP cronhost_runs_total Runs that ended, by job and status (since the host started).\n"
         "# TYPE cronhost_runs_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (const auto& [job, counts] : runs_)
      for (size_t s = 0; s < counts.size(); ++s)
        if (counts[s])
          out += "cronhost_runs_total{job=\"" + prometheus_label(job) + "\",status=\"" +
                 std::string(store::to_string(static_cast<store::RunStatus>(s))) + "\"} " + std::to_string(counts[s]) + "\n";
  }
  out += "# HELP cronhost_job_missed_total Slots that did not start within their grace (since the host started).\n"
         "# TYPE cronhost_job_missed_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (const auto& [job, count] : missed_)
      out += "cronhost_job_missed_total{job=\"" + prometheus_label(job) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP cronhost_run_duration_seconds How long runs took.\n# TYPE cronhost_run_duration_seconds histogram\n";
  duration_.render("cronhost_run_duration_seconds", out);
  out += "# HELP cronhost_fire_lateness_seconds From a fire's due time to its run's start.\n"
         "# TYPE cronhost_fire_lateness_seconds histogram\n";
  lateness_.render("cronhost_fire_lateness_seconds", out);
}

template class Histogram<15>;
template class Histogram<10>;

}  // namespace cronhost::dispatch
