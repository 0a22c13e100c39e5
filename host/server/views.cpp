#include "server/views.hpp"

#include "schedule/cron_words.hpp"
#include "server/http_json.hpp"

namespace cronhost::server {
namespace {

int64_t to_ms(Instant t) { return t.time_since_epoch().count() * 1000; }

std::string_view runner_name(const config::JobSpec& job) {
  if (job.http) return "http";
  return job.plugin.empty() ? "lua" : "plugin";
}

nlohmann::json items_json(const std::optional<store::RunItems>& items) {
  if (!items) return nullptr;
  return {{"processed", items->processed}, {"succeeded", items->succeeded}, {"failed", items->failed}};
}

nlohmann::json text_or_null(const std::string& text) { return text.empty() ? nlohmann::json() : nlohmann::json(text); }

}  // namespace

nlohmann::json schedule_json(const schedule::Schedule& schedule) {
  nlohmann::json out = {{"timezone", schedule.zone().name()}, {"expression", schedule.describe()}};
  std::visit(
      [&](const auto& kind) {
        using T = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<T, schedule::CronTimes>) {
          out["kind"] = "cron";
          std::vector<std::string> words;
          for (const auto& text : kind.texts) words.push_back(schedule::cron_in_words(text));
          std::string joined;
          for (const auto& w : words) joined += (joined.empty() ? "" : "; ") + w;
          out["text"] = joined;
        } else if constexpr (std::is_same_v<T, schedule::Interval>) {
          out["kind"] = "every";
          out["text"] = schedule.describe();
        } else if constexpr (std::is_same_v<T, schedule::OneShot>) {
          out["kind"] = "at";
          out["text"] = "once, " + schedule.describe();
        } else if constexpr (std::is_same_v<T, schedule::After>) {
          out["kind"] = "after";
          out["text"] = schedule.describe();
        } else {
          out["kind"] = "on";
          out["text"] = schedule.describe();
        }
      },
      schedule.kind());
  return out;
}

nlohmann::json next_fires(const config::JobSpec& job, Instant now, int count) {
  nlohmann::json out = nlohmann::json::array();
  if (!job.enabled || !job.schedule.fires_by_time()) return out;
  auto next = job.schedule.next(now);
  for (int i = 0; i < count && next; ++i) {
    out.push_back(time_json(to_ms(*next)));
    next = job.schedule.next(*next);
  }
  return out;
}

nlohmann::json job_summary(const dispatch::JobView& job, const std::optional<store::JobState>& state, size_t running,
                           Instant now) {
  const config::JobSpec& spec = *job.spec;
  nlohmann::json schedule = schedule_json(spec.schedule);
  schedule["overridden"] = job.schedule_overridden;
  std::optional<int64_t> next;
  if (spec.enabled && spec.schedule.fires_by_time())
    if (auto n = spec.schedule.next(now)) next = to_ms(*n);
  return {{"name", spec.name},
          {"description", spec.description},
          {"source", job.source == dispatch::JobSource::kFile  ? "file"
                     : job.source == dispatch::JobSource::kApi ? "api"
                                                               : "table"},
          {"runner", runner_name(spec)},
          {"schedule", schedule},
          {"enabled", spec.enabled},
          {"running", running},
          {"next_fire", time_json(next)},
          {"last_status", state && !state->last_status.empty() ? nlohmann::json(state->last_status) : nlohmann::json()},
          {"last_finished_at", time_json(state ? state->last_finished_at : std::nullopt)},
          {"runs", state ? state->runs : 0},
          {"successes", state ? state->successes : 0},
          {"failures", state ? state->failures : 0}};
}

void add_recent_runs(nlohmann::json& entry, const std::vector<store::RunBrief>& runs) {
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& run : runs)
    recent.push_back({{"id", run.id},
                      {"status", store::to_string(run.status)},
                      {"at", time_json(run.started_at.value_or(run.scheduled_for))},
                      {"duration_ms", run.duration_ms ? nlohmann::json(*run.duration_ms) : nlohmann::json()}});
  entry["last_run"] = runs.empty() ? nlohmann::json()
                                   : nlohmann::json{{"id", runs[0].id},
                                                    {"status", store::to_string(runs[0].status)},
                                                    {"started_at", time_json(runs[0].started_at)},
                                                    {"finished_at", time_json(runs[0].finished_at)},
                                                    {"duration_ms", runs[0].duration_ms ? nlohmann::json(*runs[0].duration_ms)
                                                                                        : nlohmann::json()}};
  entry["recent"] = std::move(recent);
}

nlohmann::json run_summary(const store::RunRecord& run) {
  return {{"id", run.id},
          {"job", run.job},
          {"trigger", store::to_string(run.trigger)},
          {"triggered_by", text_or_null(run.triggered_by)},
          {"scheduled_for", time_json(run.scheduled_for)},
          {"attempt", run.attempt},
          // The first attempt's id, for a retry (its attempts are grouped under it); null: the first.
          {"first_run_id", run.first_run_id ? nlohmann::json(*run.first_run_id) : nlohmann::json()},
          {"status", store::to_string(run.status)},
          {"started_at", time_json(run.started_at)},
          {"finished_at", time_json(run.finished_at)},
          {"duration_ms", run.duration_ms ? nlohmann::json(*run.duration_ms) : nlohmann::json()},
          {"lateness_ms", run.lateness_ms ? nlohmann::json(*run.lateness_ms) : nlohmann::json()},
          {"error", text_or_null(run.error)},
          {"items", items_json(run.items)},
          {"retry_at", time_json(run.retry_at)},  // a retry waiting for this time
          {"host", text_or_null(run.host)}};      // which host claimed it; null on a SQLite state
}

nlohmann::json run_detail(const store::RunRecord& run) {
  nlohmann::json out = run_summary(run);
  out["output"] = run.output;
  out["output_truncated"] = run.output_truncated;
  auto result = run.result_json.empty() ? nlohmann::json() : nlohmann::json::parse(run.result_json, nullptr, false);
  out["result"] = result.is_discarded() ? nlohmann::json(run.result_json) : result;
  out["notes"] = text_or_null(run.notes);
  out["params"] = run.params_json.empty() ? nlohmann::json() : nlohmann::json::parse(run.params_json, nullptr, false);
  out["event"] = run.event_json.empty() ? nlohmann::json() : nlohmann::json::parse(run.event_json, nullptr, false);
  return out;
}

nlohmann::json stats_json(const store::RunStats& s) {
  return {{"runs", s.runs},
          {"successes", s.successes},
          {"failures", s.failures},
          {"success_rate", s.runs ? nlohmann::json(static_cast<double>(s.successes) / static_cast<double>(s.runs))
                                  : nlohmann::json()},
          {"duration_ms", {{"p50", s.p50_ms}, {"p95", s.p95_ms}, {"max", s.max_ms}}},
          {"avg_lateness_ms", s.avg_lateness_ms},
          {"items", {{"processed", s.items.processed}, {"succeeded", s.items.succeeded}, {"failed", s.items.failed}}}};
}

}  // namespace cronhost::server
