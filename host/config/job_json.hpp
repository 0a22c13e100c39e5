// A job definition as JSON (list --json, the API) and its fire times as text. Stateless.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "config/job_spec.hpp"

namespace cronhost::config {

// "2026-10-04T03:00:00+10:30": the instant with the offset of `zone` at that instant.
std::string format_in_zone(Instant t, const schedule::Zone& zone);

// The next fire of a job as text: a time, "disabled", "after JOB STATUS" or "never".
std::string next_fire_text(const JobSpec& job, Instant now);

nlohmann::json job_to_json(const JobSpec& job, Instant now);

}  // namespace cronhost::config
