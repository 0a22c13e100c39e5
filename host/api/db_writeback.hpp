// A table source's writeback (config::Writeback): after a run of a job a row made, one
// statement on the source's database with the run's facts, so the app's own columns
// (last_run_at, next_run_at, last_status) stay current. The run's outcome stands whatever
// happens here; a failure is returned for the caller to log.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "config/host_config.hpp"
#include "config/job_spec.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct RunFacts {
  int64_t run_id = 0;
  int64_t started_ms = 0, finished_ms = 0;
  std::string status;                 // succeeded, failed, timed_out, ...
  std::optional<int64_t> next_fire_ms;  // the job's next slot; none: it has none
};

// Runs job.writeback (which must be set) within `timeout`.
Status write_back(const config::JobSpec& job, const config::HostConfig* host, const RunFacts& facts,
                  std::chrono::milliseconds timeout);

}  // namespace cronhost::api
