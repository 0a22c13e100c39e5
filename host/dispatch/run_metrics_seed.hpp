// Seeds RunMetrics with each job's last run and last success from the state, so
// cronhost_job_last_*_timestamp_seconds survive a restart. Called once at start, before the
// API answers; reads through the reader it is given (any thread).
#pragma once
#include "dispatch/run_metrics.hpp"
#include "store/state_store.hpp"

namespace cronhost::dispatch {

// The last run's end is job_state's; the last success is the same when the last run
// succeeded, else the newest succeeded run in the history (one indexed query per such job; a
// success older than history.keep_days is forgotten). Returns how many jobs were seeded.
size_t seed_run_metrics(RunMetrics& metrics, store::RunReader& reader);

}  // namespace cronhost::dispatch
