// run: {http: ...}: a run is one call to a service. The host sends a JobContext and reads a
// JobResult back; anything else (no answer, a non-2xx status, a timeout, a body that is not a
// JobResult) fails the run with an error that says which. Runs on the run's worker thread.
#pragma once
#include <nlohmann/json.hpp>

#include "run/run_context.hpp"

namespace cronhost::run {

// The JobContext sent to the service:
//   {"jobName", "executionId", "scheduledFor", "triggeredBy", "triggeredByUser", "attempt", "config"}
nlohmann::json job_context(const RunContext& ctx);

// Reads a JobResult ({"success", "itemsProcessed", "itemsSucceeded", "itemsFailed", "error",
// "metadata"}) into how the run ended.
RunResult read_job_result(std::string_view body);

// Performs the call; the job must have `http` set.
RunResult run_http(RunContext& ctx);

}  // namespace cronhost::run
