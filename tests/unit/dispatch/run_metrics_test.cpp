#include <catch2/catch.hpp>

#include "dispatch/run_metrics.hpp"

using namespace cronhost;

TEST_CASE("run metrics render as Prometheus text", "[dispatch][metrics]") {
  dispatch::RunMetrics metrics;
  metrics.started(3);
  metrics.finished("backup", store::RunStatus::kSucceeded, 4);
  metrics.finished("backup", store::RunStatus::kSucceeded, 700);
  metrics.finished("odd\"name", store::RunStatus::kFailed, 20);
  metrics.skipped("backup");
  std::string out;
  metrics.render(out);
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"backup\",status=\"succeeded\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"backup\",status=\"skipped\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_runs_total{job=\"odd\\\"name\",status=\"failed\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE cronhost_run_duration_seconds histogram\n"));
  // Buckets are cumulative: 4 ms falls in the first, 20 ms from 0.025 on, 700 ms from 1 on.
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{le=\"0.005\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{le=\"0.025\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{le=\"1\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_run_duration_seconds_sum 0.724\n"));
  CHECK_THAT(out, Catch::Contains("cronhost_fire_lateness_seconds_count 1\n"));
}
