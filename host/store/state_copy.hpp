// Copying a host's state from its SQLite file into an empty PostgreSQL state database
// (`cronhost migrate-state`), so that hosts sharing that database start from it: every row of
// every table, ids kept, in one PostgreSQL transaction. Not thread-safe: one copy at a time
// per call; it uses only the file and the connection it opens itself.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.hpp"

namespace cronhost::store {

// The tables both backends hold (the schema parity test checks that they are all of them),
// in the order they are copied.
const std::vector<std::string_view>& state_tables();

// Where the copy goes: a libpq URL (postgresql://user@host:port/db) and the password, passed
// as a connection parameter and never shown (empty: libpq's own ways, e.g. ~/.pgpass).
struct PgTarget {
  std::string url;
  std::string password;
};

struct CopiedTable {
  std::string table;
  int64_t rows = 0;  // the same in the file and in the database: the copy checked it
};

struct CopyReport {
  std::vector<CopiedTable> tables;  // in state_tables() order
  std::chrono::milliseconds took{0};
};

// Copies the state file `from` into `to`:
// - refuses a file that is missing or not at this build's SQLite schema version, and one that
//   a running host holds (it takes the same lock, store/host_lock.hpp, for the whole copy);
// - migrates the database (store/pg_schema.hpp), then refuses it if any state table holds rows;
// - copies every table with COPY FROM STDIN, sets each identity sequence past the largest id
//   the file used (for AUTOINCREMENT tables, past ids it deleted too), and checks that each
//   table's row count in the database equals the file's, all in one transaction.
// Any failure rolls the whole copy back; the message names the table and the row (by its key)
// where it can. Messages never hold the password.
Result<CopyReport> copy_state(const std::filesystem::path& from, const PgTarget& to);

}  // namespace cronhost::store
