// A job definition as JSON (list --json, the API) and its fire times as text. Stateless.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "config/job_spec.hpp"
#include "schedule/zone_format.hpp"

namespace cronhost::config {

// The next fire of a job as text: a time, "disabled", "after JOB STATUS" or "never".
std::string next_fire_text(const JobSpec& job, Instant now);

nlohmann::json job_to_json(const JobSpec& job, Instant now);

}  // namespace cronhost::config
