#include "api/db_connection.hpp"

#include <cctype>

#include "util/printable.hpp"

namespace cronhost::api {
namespace {

constexpr size_t kSummarySqlChars = 160;

size_t value_bytes(const DbValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return text->size();
  if (const auto* bytes = std::get_if<DbBytes>(&value)) return bytes->data.size();
  return 8;
}

// A bound value as a dry run's record shows it: text cut and redacted.
nlohmann::json shown(const DbValue& value, const DbRunScope& scope) {
  struct Visit {
    const DbRunScope& scope;
    nlohmann::json operator()(std::nullptr_t) const { return nullptr; }
    nlohmann::json operator()(bool b) const { return b; }
    nlohmann::json operator()(int64_t i) const { return i; }
    nlohmann::json operator()(double d) const { return d; }
    nlohmann::json operator()(const std::string& s) const { return scope.redact(printable(s, 200)); }
    nlohmann::json operator()(const DbBytes& b) const { return scope.redact(printable(b.data, 200)); }
  };
  return std::visit(Visit{scope}, value);
}

// The statement on one line, cut, for the summary.
std::string one_line(std::string_view sql) {
  std::string out;
  for (const char c : sql) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    else if (!out.empty() && out.back() != ' ') out += ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kSummarySqlChars) out = out.substr(0, kSummarySqlChars) + "...";
  return printable(out);
}

}  // namespace

DbConnection::DbConnection(std::string name, const config::DatabaseSettings& settings, DbRunScope scope)
    : name_(std::move(name)), settings_(settings), scope_(std::move(scope)) {}

DbResult<DbRows> DbConnection::query(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params) {
  DbRows rows;
  int64_t changes = 0;
  auto ran = run_and_capture(caller, sql, params, &rows, changes);
  if (!ran) return DbResult<DbRows>::from(ran);
  return rows;
}

DbResult<int64_t> DbConnection::exec(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params) {
  int64_t changes = 0;
  auto ran = run_and_capture(caller, sql, params, nullptr, changes);
  if (!ran) return DbResult<int64_t>::from(ran);
  return changes;
}

DbResult<DbDone> DbConnection::run_and_capture(std::string_view caller, std::string_view sql,
                                               const std::vector<DbValue>& params, DbRows* rows, int64_t& changes) {
  if (closed_) return DbResult<DbDone>::fail(DbFault::kMisuse, std::string(caller) + ": attempt to use a closed conn");
  std::vector<Outcome> done;
  row_bytes_ = 0;
  auto ran = run(caller, sql, params, rows, done);
  // Captured whether or not a later statement failed: those before it ran (and roll back).
  for (const auto& statement : done) {
    changes += statement.changes;
    if (scope_.dry_run() && statement.wrote)
      capture_write(statement.sql, done.size() == 1 ? params : std::vector<DbValue>{}, statement.changes,
                    statement.skipped ? "not run in a dry run" : "rolled back");
  }
  return ran;
}

DbResult<DbDone> DbConnection::begin() {
  if (closed_) return DbResult<DbDone>::fail(DbFault::kMisuse, "conn:transaction: attempt to use a closed conn");
  const bool savepoint = scope_.dry_run() || depth_ > 0;
  auto begun = control(savepoint ? "SAVEPOINT cronhost_" + std::to_string(depth_ + 1) : begin_sql());
  if (begun) ++depth_;
  return begun;
}

DbResult<DbDone> DbConnection::commit() {
  if (closed_) return DbResult<DbDone>::fail(DbFault::kMisuse, "conn:transaction: the conn was closed inside the transaction");
  const bool savepoint = scope_.dry_run() || depth_ > 1;
  auto committed = control(savepoint ? "RELEASE cronhost_" + std::to_string(depth_) : "COMMIT");
  if (!committed) {
    (void)rollback();
    return committed;
  }
  --depth_;
  return committed;
}

DbResult<DbDone> DbConnection::rollback() {
  if (closed_) return DbDone{};
  const bool savepoint = scope_.dry_run() || depth_ > 1;
  const std::string name = "cronhost_" + std::to_string(depth_);
  --depth_;
  if (!savepoint) return control("ROLLBACK");
  auto back = control("ROLLBACK TO " + name);
  auto released = control("RELEASE " + name);
  return back ? released : back;
}

DbResult<DbBackupCopy> DbConnection::backup(const AllowedPath&) {
  return DbResult<DbBackupCopy>::fail(DbFault::kMisuse,
                                      "conn:backup: " + name_ + " is not a SQLite database; use db.dump for a server's");
}

void DbConnection::close() {
  if (closed_) return;
  closed_ = true;
  depth_ = 0;
  disconnect();
}

std::string DbConnection::error_text(std::string_view text) const {
  return scope_.redact("db: " + name_ + ": " + printable(text, 4096));
}

DbResult<DbDone> DbConnection::server_error(std::string_view text) const {
  return DbResult<DbDone>::fail(DbFault::kServer, error_text(text));
}

DbResult<DbDone> DbConnection::add_row(DbRows& rows, std::vector<DbValue> row) {
  for (const auto& value : row) row_bytes_ += value_bytes(value);
  if (rows.rows.size() >= caps_.max_rows)
    return server_error("the query returned more than " + std::to_string(caps_.max_rows) +
                        " rows (the cap of one query); select fewer, or page with LIMIT");
  if (row_bytes_ > caps_.max_bytes)
    return server_error("the query returned more than " + std::to_string(caps_.max_bytes >> 20) +
                        " MiB (the cap of one query); select fewer rows or columns");
  rows.rows.push_back(std::move(row));
  return DbDone{};
}

void DbConnection::capture_write(std::string_view sql, const std::vector<DbValue>& params, int64_t changes,
                                 std::string_view outcome) const {
  nlohmann::json values = nlohmann::json::array();
  for (const auto& value : params) values.push_back(shown(value, scope_));
  const std::string summary = name_ + ": " + one_line(sql) +
                              (values.empty() ? "" : " (params: " + std::to_string(values.size()) + ")") + " -> " +
                              std::to_string(changes) + (changes == 1 ? " row" : " rows") + " (" + std::string(outcome) + ")";
  scope_.effects->capture({"db", scope_.redact(summary),
                           {{"database", name_},
                            {"sql", scope_.redact(printable(sql, 4096))},
                            {"params", values},
                            {"changes", changes}}});
}

}  // namespace cronhost::api
