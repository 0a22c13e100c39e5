// The MySQL/MariaDB engine of the db API (MariaDB Connector/C), for MySQL 8 and MariaDB 10.11:
// one connection per db.open, prepared statements with `?` bound, typed rows, a statement
// never outliving the run (a server-side time limit, and KILL QUERY over a second short
// connection when the run stops while it runs), a dead server an error and never a hang.
// Used from the run's thread only.
#pragma once
#include <memory>

#include "api/db_connection.hpp"

namespace cronhost::api {

// Connects to `settings.url` (mysql:// or mariadb://user@host:port/database[?socket=PATH])
// with `settings.password`; kServer when the server cannot be reached or refuses the login
// within settings.connect_timeout (and the run's time left), kMisuse for a URL it cannot read.
DbResult<std::unique_ptr<DbConnection>> open_mysql(const std::string& name, const config::DatabaseSettings& settings,
                                                   const DbRunScope& scope);

}  // namespace cronhost::api
