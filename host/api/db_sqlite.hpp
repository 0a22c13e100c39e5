// The SQLite engine of the db API: a database file the host config names, opened with the
// guards of api/sqlite_guard (no ATTACH, no extensions, defensive mode), waits for a lock in
// short slices that see the run's stop, and statements interrupted at its deadline.
#pragma once
#include <memory>

#include "api/db_connection.hpp"

namespace cronhost::api {

struct DbOpenOptions {
  std::chrono::milliseconds busy_timeout{5000};  // SQLite: how long to wait for a lock
};

// Opens `settings.sqlite` for the run; kServer when the file is missing, a symlink, or not a
// database SQLite can open.
DbResult<std::unique_ptr<DbConnection>> open_sqlite(const std::string& name, const config::DatabaseSettings& settings,
                                                    const DbRunScope& scope, const DbOpenOptions& options);

}  // namespace cronhost::api
