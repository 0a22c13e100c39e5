// The two state backends' schemas stay in step: a state file migrated by this build and a
// PostgreSQL state database migrated by it hold the same tables with the same columns (types
// of the same family, the same NOT NULLs), apart from the PostgreSQL-only columns named here.
// So a migration written for one backend only fails here, before migrate-state or a host on
// the other backend meets the difference. Against a real PostgreSQL 15 (support/db_server.hpp).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "../support/pg_test_database.hpp"
#include "../support/temp_dir.hpp"
#include "store/pg_schema.hpp"
#include "store/state_copy.hpp"
#include "store/state_store.hpp"

using namespace cronhost;

namespace {

// Columns only PostgreSQL has, and why. Every entry must still be PostgreSQL-only.
const std::set<std::pair<std::string, std::string>> kPostgresOnlyColumns = {
    {"runs", "host"},  // which of the hosts sharing the database ran it; one host per SQLite file
    // A run's owner among the hosts, its fence and its lease (schemas/migrations/postgres/002_cluster.sql).
    {"runs", "owner"},
    {"runs", "fence"},
    {"runs", "lease_until"},
    // A run of a concurrency: forbid job, one at a time across hosts (006_exclusive_runs.sql);
    // one host per SQLite file checks that in memory.
    {"runs", "exclusive"},
};
// Bookkeeping tables of one backend (SQLite's own sqlite_* tables are left out when listing).
// cronhost_schema: PRAGMA user_version in SQLite; hosts: the daemons sharing the database;
// catalog_version and job_definitions: what keeps their jobs alike (005_catalog.sql).
const std::set<std::string> kPostgresOnlyTables = {"cronhost_schema", "hosts", "catalog_version", "job_definitions"};

struct Column {
  std::string type;  // SQLite's declared type, or PostgreSQL's data_type
  bool not_null = false;
};
using Schema = std::map<std::string, std::map<std::string, Column>>;  // table -> column -> shape

Schema sqlite_schema(const std::filesystem::path& file) {
  SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
  Schema schema;
  SQLite::Statement tables(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  while (tables.executeStep()) {
    const std::string table = tables.getColumn(0).getString();
    SQLite::Statement columns(db, "SELECT name, upper(type), \"notnull\", pk FROM pragma_table_info(?)");
    columns.bind(1, table);
    while (columns.executeStep())  // a key column is never NULL (PostgreSQL's primary keys say so)
      schema[table][columns.getColumn(0).getString()] =
          Column{columns.getColumn(1).getString(), columns.getColumn(2).getInt() != 0 || columns.getColumn(3).getInt() > 0};
  }
  return schema;
}

Schema postgres_schema(const test::PgTestConnection& conn) {
  Schema schema;
  for (const auto& row : conn.rows("SELECT c.table_name, c.column_name, c.data_type, c.is_nullable "
                                   "FROM information_schema.columns c JOIN information_schema.tables t "
                                   "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                                   "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"))
    schema[*row[0]][*row[1]] = Column{*row[2], *row[3] == "NO"};
  return schema;
}

// SQLite's INTEGER holds PostgreSQL's integers and its booleans (0/1); TEXT its text.
bool same_family(const std::string& sqlite_type, const std::string& pg_type) {
  if (sqlite_type == "INTEGER") return pg_type == "bigint" || pg_type == "integer" || pg_type == "boolean";
  if (sqlite_type == "TEXT") return pg_type == "text";
  return false;
}

std::set<std::string> table_names(const Schema& schema) {
  std::set<std::string> names;
  for (const auto& [table, columns] : schema) names.insert(table);
  return names;
}

}  // namespace

TEST_CASE("state schema parity: SQLite and PostgreSQL migrate to the same tables and columns", "[db][store][postgres]") {
  test::TempDir dir;
  const auto file = dir.path() / "state.db";
  REQUIRE(store::Store::open(file));  // migrated to this build's version, then closed
  const Schema lite = sqlite_schema(file);

  test::PgTestDatabase database("parity");
  const auto conn = database.connect();
  const auto migrated = store::migrate_pg_state(conn.get());
  INFO(migrated.message());
  REQUIRE(migrated);
  Schema pg = postgres_schema(conn);
  for (const auto& table : kPostgresOnlyTables) {
    CHECK(pg.count(table) == 1);
    pg.erase(table);
  }

  // The same tables, and they are the ones migrate-state copies.
  CHECK(table_names(pg) == table_names(lite));
  const auto& copied = store::state_tables();
  CHECK(std::set<std::string>(copied.begin(), copied.end()) == table_names(lite));

  std::vector<std::string> differences;
  for (const auto& [table, columns] : lite) {
    const auto& pg_columns = pg[table];
    for (const auto& [name, column] : columns) {
      const auto other = pg_columns.find(name);
      if (other == pg_columns.end()) {
        differences.push_back(table + "." + name + ": in SQLite only");
        continue;
      }
      if (!same_family(column.type, other->second.type))
        differences.push_back(table + "." + name + ": " + column.type + " in SQLite, " + other->second.type +
                              " in PostgreSQL");
      if (column.not_null != other->second.not_null)
        differences.push_back(table + "." + name + ": NOT NULL in " + (column.not_null ? "SQLite" : "PostgreSQL") +
                              " only");
    }
    for (const auto& [name, column] : pg_columns)
      if (columns.count(name) == 0 && kPostgresOnlyColumns.count({table, name}) == 0)
        differences.push_back(table + "." + name + ": in PostgreSQL only");
  }
  // An exemption for a column that is no longer PostgreSQL-only would hide nothing: drop it.
  for (const auto& [table, name] : kPostgresOnlyColumns) {
    if (pg[table].count(name) == 0) differences.push_back(table + "." + name + ": listed PostgreSQL-only, not in PostgreSQL");
    if (lite.count(table) && lite.at(table).count(name)) differences.push_back(table + "." + name + ": listed PostgreSQL-only, in SQLite too");
  }
  CHECK(differences == std::vector<std::string>{});
}
