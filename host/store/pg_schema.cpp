#include "store/pg_schema.hpp"

#include <memory>
#include <string>

#include "store/pg_migrations.hpp"

namespace cronhost::store {
namespace {

struct Clear {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, Clear>;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Runs `sql` (one or more statements, no parameters). Empty on success, else the error.
std::string run(PGconn* conn, const std::string& sql) {
  PgResult result(PQexec(conn, sql.c_str()));
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return "";
  return trimmed(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn));
}

// The version inside the current transaction (0 if the table does not exist yet).
Result<int> read_version(PGconn* conn) {
  PgResult exists(PQexec(conn, "SELECT to_regclass('cronhost_schema') IS NOT NULL"));
  if (!exists || PQresultStatus(exists.get()) != PGRES_TUPLES_OK)
    return Result<int>::error(trimmed(exists ? PQresultErrorMessage(exists.get()) : PQerrorMessage(conn)));
  if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t") return 0;
  PgResult version(PQexec(conn, "SELECT max(version) FROM cronhost_schema"));
  if (!version || PQresultStatus(version.get()) != PGRES_TUPLES_OK)
    return Result<int>::error(trimmed(version ? PQresultErrorMessage(version.get()) : PQerrorMessage(conn)));
  if (PQntuples(version.get()) == 0 || PQgetisnull(version.get(), 0, 0)) return 0;
  return std::stoi(PQgetvalue(version.get(), 0, 0));
}

}  // namespace

Result<int> pg_state_version(PGconn* conn) {
  auto version = read_version(conn);
  if (!version) return Result<int>::error("reading the state database's schema version: " + version.message());
  return version;
}

Status migrate_pg_state(PGconn* conn) {
  const auto fail = [conn](const std::string& what) {
    (void)run(conn, "ROLLBACK");
    return Status::error("migrating the state database: " + what);
  };
  if (auto error = run(conn, "BEGIN"); !error.empty()) return Status::error("migrating the state database: " + error);
  // Transaction-scoped: released by the COMMIT or ROLLBACK below, whatever happens.
  if (auto error = run(conn, "SELECT pg_advisory_xact_lock(" + std::to_string(kPgMigrationLock) + ")"); !error.empty())
    return fail(error);
  auto current = read_version(conn);
  if (!current) return fail(current.message());
  const auto& all = pg_migrations();
  const int known = static_cast<int>(all.size());
  if (*current > known)
    return fail("the state database is from a newer cronhost (schema version " + std::to_string(*current) +
                ", this build knows " + std::to_string(known) + ")");
  for (int i = *current; i < known; ++i) {
    if (auto error = run(conn, std::string(all[static_cast<size_t>(i)])); !error.empty())
      return fail("migration " + std::to_string(i + 1) + ": " + error);
  }
  if (*current < known) {
    if (auto error = run(conn, "UPDATE cronhost_schema SET version = " + std::to_string(known)); !error.empty())
      return fail(error);
  }
  if (auto error = run(conn, "COMMIT"); !error.empty()) return fail(error);
  return Status::ok();
}

}  // namespace cronhost::store
