#include "store/state_copy.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "store/host_lock.hpp"
#include "store/migrations.hpp"
#include "store/pg_copy_text.hpp"
#include "store/pg_schema.hpp"
#include "util/printable.hpp"

namespace cronhost::store {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// COPY data is handed to libpq in pieces of about this size: few calls, bounded memory
// whatever the size of the runs table.
constexpr size_t kCopyChunkBytes = size_t{1} << 20;

struct FinishConn {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConn = std::unique_ptr<PGconn, FinishConn>;
using PgResult = std::unique_ptr<PGresult, ClearResult>;

// The state file's host lock for the whole copy. Declared before the file's connection, so it
// is released after that connection closes (closing a descriptor of the file would drop
// SQLite's own POSIX locks on it, store/host_lock.hpp).
class HeldLock {
 public:
  explicit HeldLock(int fd) : fd_(fd) {}
  ~HeldLock() { ::close(fd_); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  int fd_;
};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string without_secret(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "***");
  return text;
}

// A name as a quoted SQL identifier (the names are the schema's own: no quotes inside).
std::string identifier(std::string_view name) { return "\"" + std::string(name) + "\""; }

std::string joined(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

// Runs one statement with text parameters -> its result, or the server's message.
Result<PgResult> pg_run(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult result(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0));
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return Result<PgResult>::error(trimmed(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn)));
}

// The first field of the first row of a query.
Result<std::string> pg_value(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
  auto result = pg_run(conn, sql, params);
  if (!result) return Result<std::string>::error(result.message());
  if (PQntuples(result->get()) == 0) return Result<std::string>::error(sql + ": no row");
  return std::string(PQgetvalue(result->get(), 0, 0));
}

Result<PgConn> connect(const PgTarget& to) {
  std::vector<const char*> keys{"dbname", "application_name", "client_encoding", "connect_timeout"};
  std::vector<const char*> values{to.url.c_str(), "cronhost migrate-state", "UTF8", "10"};
  if (!to.password.empty()) keys.push_back("password"), values.push_back(to.password.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PgConn conn(PQconnectdbParams(keys.data(), values.data(), 1));  // 1: dbname is the URL
  if (!conn) return Result<PgConn>::error("cannot connect to " + to.url + ": out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return Result<PgConn>::error("cannot connect to " + to.url + ": " + trimmed(PQerrorMessage(conn.get())));
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);  // not on the operator's terminal
  return conn;
}

// A table's columns as the file has them, which of them are its key (to name a row), and which
// are boolean in the database (the file's 0/1).
struct TableShape {
  std::vector<std::string> columns;
  std::vector<size_t> key;
  std::vector<bool> boolean;
};

Result<TableShape> shape_of(SQLite::Database& file, PGconn* conn, std::string_view table) {
  auto types = pg_run(conn,
                      "SELECT column_name, data_type FROM information_schema.columns "
                      "WHERE table_schema = current_schema() AND table_name = $1",
                      {std::string(table)});
  if (!types) return Result<TableShape>::error(types.message());
  std::map<std::string, std::string> pg_types;
  for (int row = 0; row < PQntuples(types->get()); ++row)
    pg_types[PQgetvalue(types->get(), row, 0)] = PQgetvalue(types->get(), row, 1);
  if (pg_types.empty()) return Result<TableShape>::error("the database has no table " + std::string(table));

  TableShape shape;
  std::vector<std::pair<int, size_t>> key;  // (position in the key, column)
  SQLite::Statement info(file, "SELECT name, pk FROM pragma_table_info(?)");
  info.bind(1, std::string(table));
  while (info.executeStep()) {
    const std::string name = info.getColumn(0).getString();
    const auto type = pg_types.find(name);
    if (type == pg_types.end())
      return Result<TableShape>::error("the database's table " + std::string(table) + " has no column " + name +
                                       " (the two schemas differ: is this cronhost's PostgreSQL schema older?)");
    if (info.getColumn(1).getInt() > 0) key.emplace_back(info.getColumn(1).getInt(), shape.columns.size());
    shape.columns.push_back(name);
    shape.boolean.push_back(type->second == "boolean");
  }
  if (shape.columns.empty()) return Result<TableShape>::error("the state file has no table " + std::string(table));
  std::sort(key.begin(), key.end());
  for (const auto& [position, column] : key) shape.key.push_back(column);
  return shape;
}

std::string select_all(std::string_view table, const TableShape& shape) {
  std::vector<std::string> columns;
  for (const auto& c : shape.columns) columns.push_back(identifier(c));
  return "SELECT " + joined(columns, ", ") + " FROM " + identifier(table);
}

// "row id=7", "row job=nightly, key=last" of the statement's current row.
std::string row_name(SQLite::Statement& row, const TableShape& shape) {
  std::vector<std::string> parts;
  for (const size_t column : shape.key) {
    const SQLite::Column value = row.getColumn(static_cast<int>(column));
    parts.push_back(shape.columns[column] + "=" + (value.isNull() ? "NULL" : printable(value.getString(), 80)));
  }
  return "row " + (parts.empty() ? std::string("?") : joined(parts, ", "));
}

// The name of the file's row that COPY reported as `line` (1-based): the copy reads the table
// in the same order within the same snapshot.
std::string row_at_line(SQLite::Database& file, std::string_view table, const TableShape& shape, long line) {
  SQLite::Statement row(file, select_all(table, shape) + " LIMIT 1 OFFSET ?");
  row.bind(1, static_cast<int64_t>(line - 1));
  return row.executeStep() ? row_name(row, shape) : "line " + std::to_string(line);
}

// Appends the row's fields to `buffer`, or says why the row cannot go into the database.
std::string append_row(std::string& buffer, SQLite::Statement& row, const TableShape& shape) {
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    if (i > 0) buffer += '\t';
    const SQLite::Column value = row.getColumn(static_cast<int>(i));
    if (value.isNull()) {
      buffer += kCopyNull;
    } else if (value.isInteger()) {
      if (shape.boolean[i]) buffer += value.getInt64() != 0 ? 't' : 'f';
      else buffer += std::to_string(value.getInt64());
    } else if (value.isFloat()) {
      char number[32];
      std::snprintf(number, sizeof number, "%.17g", value.getDouble());
      buffer += number;
    } else if (value.isText()) {
      const std::string text = value.getString();
      // PostgreSQL's text holds UTF-8 without NUL bytes; anything else would be refused (or
      // changed), so say where it is.
      if (!is_text(text)) return "column " + shape.columns[i] + " is not UTF-8 text (or holds a NUL byte)";
      append_copy_field(buffer, text);
    } else {
      return "column " + shape.columns[i] + " holds a BLOB, which the database's column cannot take";
    }
  }
  buffer += '\n';
  return "";
}

// COPY of one table from the file -> the number of rows sent.
Result<int64_t> copy_table(SQLite::Database& file, PGconn* conn, std::string_view table, const TableShape& shape) {
  const auto fail = [&](const std::string& why) { return Result<int64_t>::error("table " + std::string(table) + ", " + why); };
  std::vector<std::string> columns;
  for (const auto& c : shape.columns) columns.push_back(identifier(c));
  PgResult start(PQexec(conn, ("COPY " + identifier(table) + " (" + joined(columns, ", ") + ") FROM STDIN").c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN)
    return fail("starting COPY: " + trimmed(start ? PQresultErrorMessage(start.get()) : PQerrorMessage(conn)));

  SQLite::Statement rows(file, select_all(table, shape));
  std::string buffer, problem;
  int64_t sent = 0;
  while (problem.empty() && rows.executeStep()) {
    const size_t row_start = buffer.size();
    if (auto why = append_row(buffer, rows, shape); !why.empty()) {
      problem = row_name(rows, shape) + ": " + why;
      buffer.resize(row_start);
      break;
    }
    ++sent;
    if (buffer.size() >= kCopyChunkBytes) {
      if (PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) != 1) problem = trimmed(PQerrorMessage(conn));
      buffer.clear();
    }
  }
  if (problem.empty() && !buffer.empty() && PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) != 1)
    problem = trimmed(PQerrorMessage(conn));
  // With an error message the server abandons the COPY (and the transaction).
  if (PQputCopyEnd(conn, problem.empty() ? nullptr : "cronhost migrate-state stopped the copy") != 1 && problem.empty())
    problem = trimmed(PQerrorMessage(conn));

  std::string server_error;
  while (PgResult result{PQgetResult(conn)}) {
    if (PQresultStatus(result.get()) == PGRES_COMMAND_OK || !server_error.empty()) continue;
    const char* primary = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
    const char* context = PQresultErrorField(result.get(), PG_DIAG_CONTEXT);  // "COPY runs, line 3, column ..."
    server_error = primary ? primary : trimmed(PQresultErrorMessage(result.get()));
    const std::string where = context ? context : "";
    if (const size_t at = where.find(", line "); at != std::string::npos && problem.empty())
      problem = row_at_line(file, table, shape, std::atol(where.c_str() + at + 7)) + ": " + server_error;
  }
  if (!problem.empty()) return fail(problem);
  if (!server_error.empty()) return fail(server_error);
  return sent;
}

// Each identity sequence continues past the largest id the file used: its rows' ids, and for
// AUTOINCREMENT tables (approvals, events) the ids of rows deleted since, which SQLite never
// gives again (a cancelled approval's id must not name another one).
Status set_sequences(SQLite::Database& file, PGconn* conn) {
  std::map<std::string, int64_t> used;  // sqlite_sequence: table -> largest id ever given
  if (file.tableExists("sqlite_sequence")) {
    SQLite::Statement seq(file, "SELECT name, seq FROM sqlite_sequence");
    while (seq.executeStep()) used[seq.getColumn(0).getString()] = seq.getColumn(1).getInt64();
  }
  auto identities = pg_run(conn,
                           "SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name");
  if (!identities) return Status::error("reading the identity columns: " + identities.message());
  const auto& tables = state_tables();
  for (int row = 0; row < PQntuples(identities->get()); ++row) {
    const std::string table = PQgetvalue(identities->get(), row, 0);
    const std::string column = PQgetvalue(identities->get(), row, 1);
    if (std::find(tables.begin(), tables.end(), table) == tables.end()) continue;
    auto largest = pg_value(conn, "SELECT coalesce(max(" + identifier(column) + "), 0) FROM " + identifier(table));
    if (!largest) return Status::error("table " + table + ": " + largest.message());
    const int64_t last = std::max<int64_t>(std::stoll(largest.value()), used.count(table) ? used[table] : 0);
    // is_called false with 1: an empty table's first id is 1.
    auto set = pg_run(conn, "SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
                      {table, column, std::to_string(std::max<int64_t>(last, 1)), last > 0 ? "true" : "false"});
    if (!set) return Status::error("table " + table + ": setting the id sequence: " + set.message());
  }
  return Status::ok();
}

Result<CopyReport> copy_into(SQLite::Database& file, PGconn* conn) {
  using Failed = Result<CopyReport>;
  const auto& tables = state_tables();
  if (auto migrated = migrate_pg_state(conn); !migrated) return Failed::error(migrated.message());
  if (auto begun = pg_run(conn, "BEGIN"); !begun) return Failed::error(begun.message());
  // A host started on the database meanwhile waits (reads still go) instead of writing rows
  // or taking ids that the copy is about to use.
  std::vector<std::string> names;
  for (const auto table : tables) names.push_back(identifier(table));
  if (auto locked = pg_run(conn, "LOCK TABLE " + joined(names, ", ") + " IN EXCLUSIVE MODE"); !locked)
    return Failed::error("locking the database's tables: " + locked.message());
  for (const auto table : tables) {
    auto holds = pg_value(conn, "SELECT EXISTS (SELECT 1 FROM " + identifier(table) + ")");
    if (!holds) return Failed::error("table " + std::string(table) + ": " + holds.message());
    if (holds.value() == "t")
      return Failed::error("the database already holds rows in table " + std::string(table) +
                           ": migrate-state copies into an empty state database only; nothing was copied");
  }

  SQLite::Transaction snapshot(file);  // every table read from one state of the file
  CopyReport report;
  for (const auto table : tables) {
    auto shape = shape_of(file, conn, table);
    if (!shape) return Failed::error("table " + std::string(table) + ": " + shape.message());
    auto sent = copy_table(file, conn, table, shape.value());
    if (!sent) return Failed::error(sent.message() + "; nothing was copied");
    report.tables.push_back({std::string(table), sent.value()});
  }
  if (auto sequences = set_sequences(file, conn); !sequences) return Failed::error(sequences.message());
  for (const auto& copied : report.tables) {
    const int64_t in_file = file.execAndGet("SELECT count(*) FROM " + identifier(copied.table)).getInt64();
    auto in_database = pg_value(conn, "SELECT count(*) FROM " + identifier(copied.table));
    if (!in_database) return Failed::error("table " + copied.table + ": " + in_database.message());
    if (std::stoll(in_database.value()) != in_file || copied.rows != in_file)
      return Failed::error("table " + copied.table + ": the file holds " + std::to_string(in_file) +
                           " rows, the database " + in_database.value() + " after the copy; nothing was copied");
  }
  if (auto committed = pg_run(conn, "COMMIT"); !committed) return Failed::error("committing the copy: " + committed.message());
  return report;
}

}  // namespace

const std::vector<std::string_view>& state_tables() {
  static const std::vector<std::string_view> all = {"job_state", "runs",      "kv",              "approvals",
                                                    "events",    "outbox",    "registered_jobs", "audit_log",
                                                    "notifications", "webhook_outbox"};
  return all;
}

Result<CopyReport> copy_state(const fs::path& from, const PgTarget& to) {
  const auto started = Clock::now();
  const auto fail = [&](const std::string& message) { return Result<CopyReport>::error(without_secret(message, to.password)); };
  std::error_code ec;
  if (!fs::is_regular_file(from, ec)) return fail("no state file at " + from.string());
  auto lock = lock_state_file(from);
  if (!lock) return fail(lock.message() + ": stop it before copying the state");
  HeldLock held(lock.value());
  try {
    SQLite::Database file(from.string(), SQLite::OPEN_READWRITE);  // read only; READWRITE replays a WAL a killed host left
    file.exec("PRAGMA busy_timeout = 5000");
    const int version = file.execAndGet("PRAGMA user_version").getInt();
    const int known = static_cast<int>(migrations().size());
    if (version < known)
      return fail("the state file " + from.string() + " is at schema version " + std::to_string(version) +
                  ", and migrate-state copies version " + std::to_string(known) +
                  ": start the host once on it with this build (cronhost run --state " + from.string() +
                  "), stop it, then copy");
    if (version > known)
      return fail("the state file " + from.string() + " is at schema version " + std::to_string(version) +
                  ", newer than this cronhost knows (" + std::to_string(known) + "): use the newer cronhost");
    auto conn = connect(to);
    if (!conn) return fail(conn.message());
    auto report = copy_into(file, conn->get());
    if (!report) return fail(report.message());  // the connection closes unfinished: the server rolls back
    report.value().took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    return report;
  } catch (const std::exception& e) {
    return fail("state file " + from.string() + ": " + e.what() + "; nothing was copied");
  }
}

}  // namespace cronhost::store
