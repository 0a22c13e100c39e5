#include "api/db_sessions.hpp"

#include <algorithm>

#include "api/db_mysql.hpp"
#include "api/db_postgres.hpp"
#include "api/permissions.hpp"

namespace cronhost::api {

DbSessions::~DbSessions() {
  for (auto& conn : open_) conn->close();
}

DbResult<DbConnection*> DbSessions::open(const std::string& name, const DbOpenOptions& options) {
  using R = DbResult<DbConnection*>;
  if (auto allowed = check_db(job_, name); !allowed) return R::fail(DbFault::kRefused, allowed.message());
  if (!host_ || !host_->databases.count(name))
    return R::fail(DbFault::kMisuse, "db.open: no database '" + name + "' in the host config (databases:)");
  if (open_.size() >= kMaxOpen)
    return R::fail(DbFault::kMisuse,
                   "db.open: a run may hold " + std::to_string(kMaxOpen) + " connections open; close one first");
  const auto& [key, settings] = *host_->databases.find(name);  // the host config outlives the run
  auto conn = settings.engine == config::DbEngine::kPostgresql ? open_postgres(key, settings, scope_, "cronhost/" + job_.name)
              : settings.engine == config::DbEngine::kMysql    ? open_mysql(key, settings, scope_)
                                                               : open_sqlite(key, settings, scope_, options);
  if (!conn) return R::from(conn);
  open_.push_back(std::move(conn.value()));
  return open_.back().get();
}

void DbSessions::close(DbConnection* conn) {
  auto it = std::find_if(open_.begin(), open_.end(), [conn](const auto& held) { return held.get() == conn; });
  if (it == open_.end()) return;
  (*it)->close();
  open_.erase(it);
}

}  // namespace cronhost::api
