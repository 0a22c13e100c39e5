#include "pg_database.hpp"

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <stdexcept>

#include "store/open_store.hpp"
#include "store/pg_store.hpp"

namespace cronhost::test {
namespace {

int next_database = 0;

// The database every migrated test database is copied from, per server (the port tells them apart).
std::string migrated_template(DbServer& server) {
  static std::map<int, std::string> made;
  auto& name = made[server.info().port];
  if (!name.empty()) return name;
  server.sql("CREATE DATABASE cronhost_tpl OWNER " + server.info().user);
  {
    auto store = store::open_pg_store(pg_settings(server.info(), "cronhost_tpl"), store::OpenMode::kDaemon);
    if (!store) throw std::runtime_error("migrating the template database: " + store.message());
  }  // closed: CREATE DATABASE ... TEMPLATE needs it without connections
  // The migrating daemon's hosts row is no part of a fresh database.
  pg_query(pg_settings(server.info(), "cronhost_tpl"), "DELETE FROM hosts");
  name = "cronhost_tpl";
  return name;
}

}  // namespace

config::DatabaseSettings pg_settings(const DbServerInfo& server, const std::string& database) {
  config::DatabaseSettings settings;
  settings.engine = config::DbEngine::kPostgresql;
  settings.url = "postgresql://" + server.user + "@" + server.host + ":" + std::to_string(server.port) + "/" + database;
  settings.password = server.password;
  settings.connect_timeout = std::chrono::milliseconds(5000);
  return settings;
}

config::DatabaseSettings fresh_pg_database_on(DbServer& server, bool migrated) {
  const std::string name = "t" + std::to_string(++next_database);
  const std::string from = migrated ? " TEMPLATE " + migrated_template(server) : "";
  server.sql("CREATE DATABASE " + name + from + " OWNER " + server.info().user);
  return pg_settings(server.info(), name);
}

config::DatabaseSettings fresh_pg_database(bool migrated) {
  return fresh_pg_database_on(DbServer::shared(DbKind::postgres), migrated);
}

std::string pg_query(const config::DatabaseSettings& settings, const std::string& sql) {
  const char* keys[] = {"dbname", "password", nullptr};
  const char* values[] = {settings.url.c_str(), settings.password.c_str(), nullptr};
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdbParams(keys, values, 1), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
  if (status != PGRES_TUPLES_OK || PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0)) return "";
  return PQgetvalue(result.get(), 0, 0);
}

}  // namespace cronhost::test
