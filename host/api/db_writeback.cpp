#include "api/db_writeback.hpp"

#include "api/db_sessions.hpp"
#include "util/time_format.hpp"

namespace cronhost::api {
namespace {

// "2026-12-03T10:00:00+00:00": what every engine reads as a UTC timestamp.
std::string timestamp(int64_t ms) { return format_rfc3339(Instant(std::chrono::seconds(ms / 1000)), 0); }

DbValue value_of(const config::WritebackArg& arg, const config::JobSpec& job, const RunFacts& facts) {
  if (arg.field == "run.started_at") return timestamp(facts.started_ms);
  if (arg.field == "run.finished_at") return timestamp(facts.finished_ms);
  if (arg.field == "run.status") return facts.status;
  if (arg.field == "run.id") return facts.run_id;
  if (arg.field == "run.duration_ms") return facts.finished_ms - facts.started_ms;
  if (arg.field == "job.next_fire") return facts.next_fire_ms ? DbValue(timestamp(*facts.next_fire_ms)) : DbValue(nullptr);
  if (arg.field == "job.name") return job.name;
  const auto& v = arg.value;  // the row's own value
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return v.get<std::string>();
  return nullptr;
}

}  // namespace

Status write_back(const config::JobSpec& job, const config::HostConfig* host, const RunFacts& facts,
                  std::chrono::milliseconds timeout) {
  const config::Writeback& writeback = *job.writeback;
  // As a job allowed only the source's database would reach it.
  config::JobSpec writer{.name = job.name, .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::utc())};
  writer.allow.db = {writeback.db};
  EffectLog effects(EffectMode::kLive);
  Redactor redactor;
  if (host)
    for (const auto& secret : host->secrets) redactor.add(secret);
  DbSessions sessions(writer, host, DbRunScope{&effects, &redactor, std::chrono::steady_clock::now() + timeout});
  auto conn = sessions.open(writeback.db);
  if (!conn) return Status::error(conn.message());
  std::vector<DbValue> args;
  for (const auto& arg : writeback.args) args.push_back(value_of(arg, job, facts));
  auto changed = conn.value()->exec("writeback", writeback.sql, args);
  if (!changed) return Status::error(changed.message());
  return Status::ok();
}

}  // namespace cronhost::api
