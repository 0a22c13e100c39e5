#include <catch2/catch.hpp>

#include "dispatch/run_metrics.hpp"

using namespace cronhost;

namespace {

std::vector<dispatch::MetricsJob> jobs(std::initializer_list<const char*> names, int64_t timeout_ms = 3'600'000) {
  std::vector<dispatch::MetricsJob> out;
  for (const char* name : names) out.push_back({name, 0, timeout_ms});
  return out;
}

}  // namespace

TEST_CASE("run metrics render as Prometheus text", "[dispatch][metrics]") {
  dispatch::RunMetrics metrics;
  metrics.started("backup", 3);
  metrics.finished("backup", store::RunStatus::kSucceeded, 4, 1'000);
  metrics.finished("backup", store::RunStatus::kSucceeded, 700, 2'000);
  metrics.finished("odd\"name", store::RunStatus::kFailed, 20, 3'000);
  metrics.skipped("backup");
  std::string out;
  metrics.render(jobs({"backup", "odd\"name"}), out);
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"backup\",status=\"succeeded\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"backup\",status=\"skipped\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"backup\",status=\"failed\"} 0\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"odd\\\"name\",status=\"failed\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE cronhost_run_duration_seconds histogram\n"));
  // Buckets are cumulative: 4 ms falls in the first, 700 ms from 1 on.
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{job=\"backup\",le=\"0.005\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{job=\"backup\",le=\"0.5\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{job=\"backup\",le=\"1\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{job=\"backup\",le=\"+Inf\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_sum{job=\"backup\"} 0.704\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_fire_lateness_seconds_count{job=\"backup\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_fire_lateness_seconds_count{job=\"odd\\\"name\"} 0\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_job_last_success_timestamp_seconds{job=\"backup\"} 2.000\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_job_last_success_timestamp_seconds{job=\"odd\\\"name\"} 0.000\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_job_last_run_timestamp_seconds{job=\"odd\\\"name\"} 3.000\n"));
}

TEST_CASE("run metrics: buckets reach the longest timeout", "[dispatch][metrics]") {
  dispatch::RunMetrics metrics;
  std::string out;
  metrics.render(jobs({"a"}, 5 * 3'600'000), out);  // 5 h: up to the 8 h bound
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{job=\"a\",le=\"28800\"} 0\n"));
  CHECK_THAT(out, !Catch::Contains("le=\"43200\""));
  out.clear();
  metrics.render(jobs({"a"}, 1'000), out);  // short jobs still show up to a minute
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{job=\"a\",le=\"60\"} 0\n"));
  CHECK_THAT(out, !Catch::Contains("le=\"120\""));
}

TEST_CASE("run metrics: jobs beyond max_jobs are summed under _other", "[dispatch][metrics]") {
  dispatch::RunMetrics metrics;
  metrics.set_max_jobs(1);
  metrics.seed("b", 5'000, 4'000);
  metrics.finished("c", store::RunStatus::kFailed, 10, 9'000);
  metrics.missed("c", 9'000);
  std::string out;
  metrics.render(jobs({"c", "b", "a"}), out);
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"a\",status=\"failed\"} 0\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"_other\",status=\"failed\"} 1\n"));
  CHECK_THAT(out, !Catch::Contains("job=\"b\""));
  CHECK_THAT(out, Catch::Contains("cronhost_job_missed_total{job=\"_other\"} 1\n"));
  // The oldest of the folded: c never succeeded.
  CHECK_THAT(out, Catch::Contains("cronhost_job_last_success_timestamp_seconds{job=\"_other\"} 0.000\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_job_last_run_timestamp_seconds{job=\"_other\"} 5.000\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_metrics_jobs_folded 2\n"));
  CHECK(metrics.missed_since(8'000) == std::map<std::string, int>{{"c", 1}});
  CHECK(metrics.missed_since(10'000).empty());
}
