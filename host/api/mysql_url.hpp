// A MySQL/MariaDB server's URL from the host config (mysql:// or mariadb://user@host:port/
// database?socket=PATH), as both the engine (db_mysql) and the dump tool (db_dump) reach it.
// The config loader has refused a password in it.
#pragma once
#include <optional>
#include <string>

#include "util/status.hpp"

namespace cronhost::api {

struct MysqlUrl {
  std::string user, host, database, socket;  // socket: a local server's, instead of host:port
  unsigned port = 3306;
};

// Its parts, or why not ("the URL names no user (expected mysql://user@host:port/database)").
Result<MysqlUrl> parse_mysql_url(const std::string& url);

}  // namespace cronhost::api
