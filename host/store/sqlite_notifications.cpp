// The SQLite store's record of notifications decided (store/state_store.hpp NotificationStore).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "store/column_values.hpp"
#include "store/call_result.hpp"
#include "store/db_thread.hpp"
#include "store/sqlite_store.hpp"

namespace cronhost::store {

Result<bool> SqliteStore::notification_add(const NotificationRecord& r) {
  return call_result<bool>(*db_, "notifications", [r](SQLite::Database& db) -> Result<bool> {
    SQLite::Statement q(db,
                        "INSERT INTO notifications (job, event, at, slot, run_id, channels, suppressed, summary, dedup_key) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING");
    q.bind(1, r.job);
    q.bind(2, r.event);
    q.bind(3, r.at);
    if (r.slot) q.bind(4, *r.slot);
    if (r.run_id) q.bind(5, *r.run_id);
    q.bind(6, r.channels_json);
    q.bind(7, r.suppressed ? 1 : 0);
    q.bind(8, r.summary);
    q.bind(9, r.dedup_key);
    return q.exec() == 1;
  });
}

Result<std::vector<NotificationRecord>> SqliteStore::notifications(const NotificationQuery& query) {
  return call_result<std::vector<NotificationRecord>>(
      *db_, "notifications", [query](SQLite::Database& db) -> Result<std::vector<NotificationRecord>> {
        std::string sql =
            "SELECT id, job, event, at, slot, run_id, channels, suppressed, summary, dedup_key FROM notifications "
            "WHERE job = ?";
        if (!query.events.empty()) {
          sql += " AND event IN (?";
          for (size_t i = 1; i < query.events.size(); ++i) sql += ", ?";
          sql += ")";
        }
        if (query.sent_only) sql += " AND suppressed = 0";
        sql += " ORDER BY at DESC, id DESC LIMIT ?";
        SQLite::Statement q(db, sql);
        int at = 1;
        q.bind(at++, query.job);
        for (const auto& event : query.events) q.bind(at++, event);
        q.bind(at, query.limit);
        std::vector<NotificationRecord> out;
        while (q.executeStep())
          out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                         q.getColumn(3).getInt64(), optional_int(q.getColumn(4)), optional_int(q.getColumn(5)),
                         q.getColumn(6).getString(), q.getColumn(7).getInt() != 0, q.getColumn(8).getString(),
                         q.getColumn(9).getString()});
        return out;
      });
}

}  // namespace cronhost::store
