#include "dispatch/table_source_query.hpp"

#include "api/db_sessions.hpp"

namespace cronhost::dispatch {

api::DbResult<api::DbRows> query_table_source(const config::TableSource& source, const config::HostConfig& host,
                                              std::chrono::milliseconds time_limit, std::function<bool()> stop) {
  config::JobSpec reader{.name = "source:" + source.name,
                         .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::utc())};
  reader.allow.db = {source.db};
  api::EffectLog effects(api::EffectMode::kLive);
  api::Redactor redactor;
  for (const auto& secret : host.secrets) redactor.add(secret);
  const auto deadline = std::chrono::steady_clock::now() + time_limit;
  api::DbSessions sessions(reader, &host, api::DbRunScope{&effects, &redactor, deadline, std::move(stop)});
  auto conn = sessions.open(source.db);
  if (!conn) return api::DbResult<api::DbRows>::fail(conn.fault(), conn.message());
  return conn.value()->query("source.query", source.query, {});
}

}  // namespace cronhost::dispatch
