// Counters and histograms of runs for /metrics: runs by job and status, run durations and
// fire lateness. Thread-safe: workers record, the HTTP server renders.
#pragma once
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "store/records.hpp"

namespace cronhost::dispatch {

// A Prometheus histogram with fixed upper bounds, in seconds.
template <size_t N>
class Histogram {
 public:
  explicit Histogram(std::array<double, N> bounds) : bounds_(bounds) {}
  void observe_ms(int64_t ms);
  // The `_bucket`, `_sum` and `_count` lines of metric `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::array<double, N> bounds_;
  std::array<std::atomic<uint64_t>, N> buckets_{};  // not cumulative: rendering sums them
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_ms_{0};
};

class RunMetrics {
 public:
  void started(int64_t lateness_ms) { lateness_.observe_ms(lateness_ms); }
  void finished(const std::string& job, store::RunStatus status, int64_t duration_ms);
  // A slot recorded as skipped (concurrency) counts as a run with that status.
  void skipped(const std::string& job);
  // A slot that did not start within its grace (notify: missed), seen at `at_ms`.
  void missed(const std::string& job, int64_t at_ms);
  // Jobs with slots missed at or after `from_ms`, and how many each (for /health).
  std::map<std::string, int> missed_since(int64_t from_ms) const;
  // # HELP / # TYPE and the samples of cronhost_runs_total, cronhost_run_duration_seconds and
  // cronhost_fire_lateness_seconds.
  void render(std::string& out) const;

 private:
  using Counts = std::array<uint64_t, 8>;  // by store::RunStatus
  mutable std::mutex mutex_;
  std::map<std::string, Counts> runs_;  // by job
  std::map<std::string, uint64_t> missed_;  // by job, since the host started
  std::deque<std::pair<int64_t, std::string>> recent_missed_;  // (at, job) within the last hour
  Histogram<15> duration_{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}};
  Histogram<10> lateness_{{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60}};
};

// A label value escaped for the text format (backslash, quote, newline).
std::string prometheus_label(std::string_view value);

}  // namespace cronhost::dispatch
