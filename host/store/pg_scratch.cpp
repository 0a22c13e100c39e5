#include "store/pg_scratch.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "store/pg_migrations.hpp"
#include "store/pg_schema.hpp"
#include "store/pg_session.hpp"
#include "store/sqlite_store.hpp"

namespace cronhost::store {
namespace {

// Each table copied, and which of its rows: the schemas match column for column, so the
// SQLite table's columns name what to select.
struct Seed {
  const char* table;
  const char* rows;  // the FROM ... of the select, aliased t
};
constexpr Seed kSeeds[] = {
    {"kv", "kv t"},
    {"job_state", "job_state t"},
    // The open ones a run may find or decide, and the executed ones `once` answers with.
    {"approvals",
     "(SELECT * FROM approvals WHERE status IN ('PENDING', 'APPROVED', 'EXECUTED') ORDER BY id DESC LIMIT 10000) t"},
    // history.* reads a job's recent runs.
    {"runs",
     "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS recent FROM runs) r "
     "WHERE recent <= 100) t"},
    // A dry run's notification says whether repeat_every would hold it back.
    {"notifications",
     "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS recent FROM notifications) n "
     "WHERE recent <= 100) t"},
};

// SQLite keeps 0/1 where PostgreSQL has booleans.
std::string select_item(const std::string& column) {
  if (column == "enabled_override" || column == "output_truncated" || column == "suppressed")
    return "t." + column + "::int";
  return "t." + column;
}

void copy_table(PgSession& pg, SQLite::Database& db, const Seed& seed) {
  std::vector<std::string> columns;
  SQLite::Statement info(db, std::string("PRAGMA table_info(") + seed.table + ")");
  while (info.executeStep()) columns.push_back(info.getColumn(1).getString());
  std::string select = "SELECT ", insert = std::string("INSERT INTO ") + seed.table + " (", marks;
  for (size_t i = 0; i < columns.size(); ++i) {
    select += (i ? ", " : "") + select_item(columns[i]);
    insert += (i ? ", " : "") + columns[i];
    marks += i ? ", ?" : "?";
  }
  const PgRows rows = pg.run(select + " FROM " + seed.rows);
  SQLite::Statement put(db, insert + ") VALUES (" + marks + ")");
  for (const PgRow& row : rows.rows) {
    put.reset();
    for (size_t i = 0; i < row.size(); ++i) {
      // Text into columns of INTEGER affinity is stored as the integer it spells.
      if (row[i]) put.bind(static_cast<int>(i + 1), *row[i]);
      else put.bind(static_cast<int>(i + 1));
    }
    put.exec();
  }
}

}  // namespace

Result<std::unique_ptr<Store>> open_pg_scratch(const config::DatabaseSettings& settings) {
  PgSession pg(settings, "dry-run");
  if (Status connected = pg.connect(); !connected) return Result<std::unique_ptr<Store>>::error(connected.message());
  // A database no host has migrated yet holds nothing to copy: the dry run starts empty.
  auto version = pg_state_version(pg.raw());
  if (!version) return Result<std::unique_ptr<Store>>::error(version.message());
  if (*version == 0)
    return SqliteStore::open_seeded_scratch([](SQLite::Database&) {});
  if (*version != static_cast<int>(pg_migrations().size()))
    return Result<std::unique_ptr<Store>>::error("the state database " + settings.url + " is at schema version " +
                                                 std::to_string(*version) + ", this cronhost knows " +
                                                 std::to_string(pg_migrations().size()));
  try {
    pg.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");  // one consistent view of every table
    return SqliteStore::open_seeded_scratch([&pg](SQLite::Database& db) {
      for (const Seed& seed : kSeeds) copy_table(pg, db, seed);
    });
  } catch (const std::exception& e) {
    return Result<std::unique_ptr<Store>>::error("dry-run state from " + settings.url + ": " + e.what());
  }
}

}  // namespace cronhost::store
