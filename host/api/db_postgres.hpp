// The PostgreSQL engine of the db API (libpq): a server the host config names by URL, with
// the password passed as a connection parameter (never inside a text that is shown), TLS as
// tls.mode/tls.ca say, and every wait (connect, statement) on the socket in slices that see
// the run's stop, so that neither a slow nor a dead server outlives the run.
#pragma once
#include <memory>
#include <string>

#include "api/db_connection.hpp"

namespace cronhost::api {

// Connects to `settings.url` for the run, within settings.connect_timeout and the run's
// deadline; `application` names the connection in pg_stat_activity (cronhost/JOB).
// kServer when the server cannot be reached or refuses the login.
DbResult<std::unique_ptr<DbConnection>> open_postgres(const std::string& name, const config::DatabaseSettings& settings,
                                                      const DbRunScope& scope, const std::string& application);

}  // namespace cronhost::api
