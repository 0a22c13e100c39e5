// Test helper: a database of the test's own on the shared PostgreSQL test server
// (support/db_server.hpp), owned by the app user and dropped at the end, and libpq connections
// to it as that user, reading rows as text. Files that include this need libpq's headers (see
// tests/CMakeLists.txt). Not thread-safe: for the test's main thread.
#pragma once
#include <libpq-fe.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db_server.hpp"

namespace cronhost::test {

// One row of text fields; NULL is nothing.
using PgRow = std::vector<std::optional<std::string>>;

class PgTestConnection {
 public:
  explicit PgTestConnection(PGconn* conn) : conn_(conn, PQfinish) {}
  PGconn* get() const { return conn_.get(); }

  // Runs `sql` (REQUIREs success) -> its rows.
  std::vector<PgRow> rows(const std::string& sql) const {
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn_.get(), sql.c_str()), PQclear);
    const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    INFO(sql << ": " << (result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_.get())));
    REQUIRE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK));
    std::vector<PgRow> out;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      PgRow row;
      for (int c = 0; c < PQnfields(result.get()); ++c)
        row.push_back(PQgetisnull(result.get(), r, c) ? std::nullopt
                                                      : std::optional<std::string>(PQgetvalue(result.get(), r, c)));
      out.push_back(std::move(row));
    }
    return out;
  }

  // The first field of the first row (REQUIREs one).
  std::string value(const std::string& sql) const {
    const auto result = rows(sql);
    REQUIRE(!result.empty());
    REQUIRE(result[0][0].has_value());
    return *result[0][0];
  }

 private:
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

class PgTestDatabase {
 public:
  // Creates `<prefix>_<pid>_<n>`, owned by the app user.
  explicit PgTestDatabase(const std::string& prefix) : server_(DbServer::shared(DbKind::postgres).info()) {
    static int counter = 0;
    name_ = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    DbServer::shared(DbKind::postgres).sql("CREATE DATABASE " + name_ + " OWNER " + server_.user);
  }
  ~PgTestDatabase() {
    try {
      DbServer::shared(DbKind::postgres).sql("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {  // the server is thrown away at the end anyway
    }
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  const std::string& name() const { return name_; }
  // postgresql://cronhost@127.0.0.1:PORT/NAME: no password in it.
  std::string url() const { return server_.url.substr(0, server_.url.rfind('/') + 1) + name_; }
  const std::string& password() const { return server_.password; }

  // A connection as the app user (REQUIREs success).
  PgTestConnection connect() const {
    const std::string u = url();
    const char* keys[] = {"dbname", "password", "connect_timeout", nullptr};
    const char* values[] = {u.c_str(), server_.password.c_str(), "10", nullptr};
    PgTestConnection conn(PQconnectdbParams(keys, values, 1));
    INFO(PQerrorMessage(conn.get()));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    return conn;
  }

 private:
  DbServerInfo server_;
  std::string name_;
};

}  // namespace cronhost::test
