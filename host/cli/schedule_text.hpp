// Printing a job's schedule and fire times for people and for --json.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "config/job_spec.hpp"

namespace cronhost::cli {

// "2026-10-04T03:00:00+10:30": the instant with the offset of `zone` at that instant.
std::string format_in_zone(Instant t, const schedule::Zone& zone);

// The next fire of a job as text: a time, "disabled", "after JOB STATUS" or "never".
std::string next_fire_text(const config::JobSpec& job, Instant now);

nlohmann::json job_to_json(const config::JobSpec& job, Instant now);

}  // namespace cronhost::cli
