// The `job` table a script sees (name, run_id, trigger, scheduled_for, attempt,
// max_attempts, params, event, allow.files), as JSON: installed by open_job in the host and
// sent to the runner process of an isolated Lua run.
#pragma once
#include <nlohmann/json.hpp>

#include "run/run_context.hpp"

namespace cronhost::bindings {

nlohmann::json job_json(const run::RunContext& ctx);

}  // namespace cronhost::bindings
