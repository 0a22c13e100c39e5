// The PostgreSQL store's record of notifications decided: store/sqlite_notifications.cpp
// translated. The unique dedup_key makes hosts that decide the same notification at once
// (both saw the same missed slot at start) record, and send, it once.
#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/call_result.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {

using namespace pg;

Result<bool> PgStore::notification_add(const NotificationRecord& r) {
  return call_result<bool>(*db_, "notifications", [r](PgSession& db) -> Result<bool> {
    auto inserted = db.run(
        "INSERT INTO notifications (job, event, at, slot, run_id, channels, suppressed, summary, dedup_key) "
        "VALUES ($1, $2, $3::bigint, $4::bigint, $5::bigint, $6, $7::boolean, $8, $9) ON CONFLICT (dedup_key) DO NOTHING",
        {param(r.job), param(r.event), param(r.at), param(r.slot), param(r.run_id), param(r.channels_json),
         param(std::string(r.suppressed ? "true" : "false")), param(r.summary), param(r.dedup_key)});
    return inserted.affected == 1;
  });
}

Result<std::vector<NotificationRecord>> PgStore::notifications(const NotificationQuery& query) {
  return call_result<std::vector<NotificationRecord>>(
      *db_, "notifications", [query](PgSession& db) -> Result<std::vector<NotificationRecord>> {
        std::string sql =
            "SELECT id, job, event, at, slot, run_id, channels, suppressed, summary, dedup_key FROM notifications "
            "WHERE job = $1";
        std::vector<PgParam> params{param(query.job)};
        if (!query.events.empty()) {
          sql += " AND event IN (";
          for (size_t i = 0; i < query.events.size(); ++i) {
            params.push_back(param(query.events[i]));
            sql += (i ? ", $" : "$") + std::to_string(params.size());
          }
          sql += ")";
        }
        if (query.sent_only) sql += " AND NOT suppressed";
        params.push_back(param(int64_t{query.limit}));
        sql += " ORDER BY at DESC, id DESC LIMIT $" + std::to_string(params.size()) + "::bigint";
        auto rows = db.run(sql, params);
        std::vector<NotificationRecord> out;
        for (const auto& row : rows.rows)
          out.push_back({integer(row[0]), text(row[1]), text(row[2]), integer(row[3]), optional_int(row[4]),
                         optional_int(row[5]), text(row[6]), text(row[7]) == "t", text(row[8]), text(row[9])});
        return out;
      });
}

}  // namespace cronhost::store
