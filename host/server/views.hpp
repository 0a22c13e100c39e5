// How the admin API shows jobs, runs and statistics as JSON (the shapes README documents).
// Stateless.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>

#include "dispatch/job_registry.hpp"
#include "store/records.hpp"
#include "store/state_store.hpp"

namespace cronhost::server {

// {"kind", "expression", "timezone", "text"}
nlohmann::json schedule_json(const schedule::Schedule& schedule);
// The jobs list entry: name, source, runner, schedule, enabled, running, next fire, counters.
nlohmann::json job_summary(const dispatch::JobView& job, const std::optional<store::JobState>& state, size_t running,
                           Instant now);
// Adds "last_run" (the newest run: id, status, started_at, finished_at, duration_ms; null for
// none) and "recent" (newest first: id, status, at, duration_ms) to a jobs list entry.
void add_recent_runs(nlohmann::json& entry, const std::vector<store::RunBrief>& runs);
// The next `count` fire times (none for a disabled job or one that fires on events or after others).
nlohmann::json next_fires(const config::JobSpec& job, Instant now, int count);
nlohmann::json run_summary(const store::RunRecord& run);
nlohmann::json run_detail(const store::RunRecord& run);
nlohmann::json stats_json(const store::RunStats& stats);

}  // namespace cronhost::server
