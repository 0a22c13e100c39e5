#include "dispatch/run_metrics_seed.hpp"

namespace cronhost::dispatch {

size_t seed_run_metrics(RunMetrics& metrics, store::RunReader& reader) {
  size_t seeded = 0;
  for (const store::JobState& state : reader.finished_job_states()) {
    if (!state.last_finished_at) continue;  // never ran
    int64_t last_success = 0;
    if (state.last_status == store::to_string(store::RunStatus::kSucceeded)) {
      last_success = *state.last_finished_at;
    } else if (state.successes > 0) {
      const auto runs = reader.runs({.job = state.job, .status = store::RunStatus::kSucceeded, .limit = 1});
      if (!runs.empty() && runs.front().finished_at) last_success = *runs.front().finished_at;
    }
    metrics.seed(state.job, *state.last_finished_at, last_success);
    ++seeded;
  }
  return seeded;
}

}  // namespace cronhost::dispatch
