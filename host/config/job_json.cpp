#include "config/job_json.hpp"

namespace cronhost::config {

std::string next_fire_text(const JobSpec& job, Instant now) {
  if (!job.enabled) return "disabled";
  if (!job.schedule.fires_by_time()) return job.schedule.describe();
  auto next = job.schedule.next(now);
  return next ? schedule::format_in_zone(*next, job.schedule.zone()) : "never";
}

nlohmann::json allow_to_json(const Allowlist& allow) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& folder : allow.files) files.push_back(folder.string());
  return {{"http", allow.http},
          {"mail", allow.mail_anyone ? nlohmann::json(true) : nlohmann::json(allow.mail)},
          {"db", allow.db},
          {"files", files},
          {"registry", allow.registry},
          {"storage", allow.storage}};
}

nlohmann::json runner_to_json(const JobSpec& job) {
  if (job.http) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : job.http->headers) headers[name] = job.http->secret_headers.count(name) ? "***" : value;
    nlohmann::json http = {{"url", job.http->url}, {"method", job.http->method}, {"headers", headers}};
    if (job.http->timeout) http["timeout_ms"] = job.http->timeout->count();
    return {{"http", http}};
  }
  const std::string isolation(to_string(job.isolation));
  if (!job.plugin.empty()) return {{"plugin", job.plugin.string()}, {"isolation", isolation}};
  return {{"lua", job.lua_script}, {"isolation", isolation}};
}

nlohmann::json job_to_json(const JobSpec& job, Instant now) {
  nlohmann::json schedule = {{"describe", job.schedule.describe()},
                             {"timezone", job.schedule.zone().name()},
                             {"jitter_ms", job.schedule.jitter().count()}};
  std::visit(
      [&](const auto& kind) {
        using T = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<T, schedule::CronTimes>) schedule["cron"] = kind.texts;
        else if constexpr (std::is_same_v<T, schedule::Interval>) schedule["every_seconds"] = kind.every.count();
        else if constexpr (std::is_same_v<T, schedule::OneShot>) schedule["at"] = schedule::format_in_zone(kind.at, job.schedule.zone());
        else if constexpr (std::is_same_v<T, schedule::OnEvent>) schedule["on"] = {{"event", kind.name}, {"kind", kind.kind}};
        else schedule["after"] = {{"job", kind.job}, {"status", kind.status}};
      },
      job.schedule.kind());
  nlohmann::json out = {{"name", job.name},
                        {"file", job.file},
                        {"description", job.description},
                        {"schedule", schedule},
                        {"runner", runner_to_json(job)},
                        {"enabled", job.enabled},
                        {"params", job.printable_params()},
                        {"timeout_ms", job.timeout.count()},
                        {"concurrency", std::string(to_string(job.concurrency))},
                        {"max_instances", job.max_instances ? nlohmann::json(*job.max_instances) : nlohmann::json()},
                        {"retries", {{"attempts", job.retries.attempts},
                                     {"backoff_ms", job.retries.backoff.count()},
                                     {"max_backoff_ms", job.retries.max_backoff.count()}}},
                        {"catchup", {{"policy", std::string(to_string(job.catchup.policy))},
                                     {"window_ms", job.catchup.window.count()},
                                     {"max_runs", job.catchup.max_runs}}},
                        {"allow", allow_to_json(job.allow)}};
  if (!job.notify().empty()) out["notify"] = notify::block_to_json(job.notify());
  auto next = job.enabled && job.schedule.fires_by_time() ? job.schedule.next(now) : std::nullopt;
  out["next"] = next ? nlohmann::json(schedule::format_in_zone(*next, job.schedule.zone())) : nlohmann::json(nullptr);
  return out;
}

}  // namespace cronhost::config
