#include "cli/schedule_text.hpp"

namespace cronhost::cli {

std::string format_in_zone(Instant t, const schedule::Zone& zone) {
  return format_rfc3339(t, zone.offset_at(t.time_since_epoch().count()));
}

std::string next_fire_text(const config::JobSpec& job, Instant now) {
  if (!job.enabled) return "disabled";
  if (!job.schedule.fires_by_time()) return job.schedule.describe();
  auto next = job.schedule.next(now);
  return next ? format_in_zone(*next, job.schedule.zone()) : "never";
}

nlohmann::json allow_to_json(const config::Allowlist& allow) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& folder : allow.files) files.push_back(folder.string());
  return {{"http", allow.http},
          {"mail", allow.mail_anyone ? nlohmann::json(true) : nlohmann::json(allow.mail)},
          {"db", allow.db},
          {"files", files},
          {"registry", allow.registry}};
}

nlohmann::json job_to_json(const config::JobSpec& job, Instant now) {
  nlohmann::json schedule = {{"describe", job.schedule.describe()},
                             {"timezone", job.schedule.zone().name()},
                             {"jitter_ms", job.schedule.jitter().count()}};
  std::visit(
      [&](const auto& kind) {
        using T = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<T, schedule::CronTimes>) schedule["cron"] = kind.texts;
        else if constexpr (std::is_same_v<T, schedule::Interval>) schedule["every_seconds"] = kind.every.count();
        else if constexpr (std::is_same_v<T, schedule::OneShot>) schedule["at"] = format_in_zone(kind.at, job.schedule.zone());
        else if constexpr (std::is_same_v<T, schedule::OnEvent>) schedule["on"] = {{"event", kind.name}, {"kind", kind.kind}};
        else schedule["after"] = {{"job", kind.job}, {"status", kind.status}};
      },
      job.schedule.kind());
  nlohmann::json out = {{"name", job.name},
                        {"file", job.file},
                        {"description", job.description},
                        {"schedule", schedule},
                        {"runner", job.plugin.empty()
                                       ? nlohmann::json{{"lua", job.lua_script.string()},
                                                        {"isolation", std::string(config::to_string(job.isolation))}}
                                       : nlohmann::json{{"plugin", job.plugin.string()},
                                                        {"isolation", std::string(config::to_string(job.isolation))}}},
                        {"enabled", job.enabled},
                        {"params", job.printable_params()},
                        {"timeout_ms", job.timeout.count()},
                        {"concurrency", std::string(config::to_string(job.concurrency))},
                        {"allow", allow_to_json(job.allow)}};
  auto next = job.enabled && job.schedule.fires_by_time() ? job.schedule.next(now) : std::nullopt;
  out["next"] = next ? nlohmann::json(format_in_zone(*next, job.schedule.zone())) : nlohmann::json(nullptr);
  return out;
}

}  // namespace cronhost::cli
