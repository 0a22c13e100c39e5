#include "api/db_sqlite.hpp"

#include <cstring>
#include <fcntl.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/stat.h>
#include <thread>

#include "api/sqlite_backup.hpp"
#include "api/sqlite_guard.hpp"
#include "util/printable.hpp"

namespace cronhost::api {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// SQLite calls the progress handler every this many VM instructions, as the Lua hook does
// for scripts, so that one long statement cannot outlive the run's deadline.
constexpr int kProgressInstructions = 10000;

constexpr const char* kOneStatement =
    "give one SQL statement per call (run each with its own call, inside conn:transaction for all or nothing)";

struct Finalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, Finalizer>;

// VACUUM cannot run inside the dry run's transaction (SQLite refuses), and it changes no
// rows, so a dry run only records it.
bool is_vacuum(sqlite3_stmt* stmt) {
  std::string_view sql = sqlite3_sql(stmt);
  while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.front()))) sql.remove_prefix(1);
  return sql.size() >= 6 && strncasecmp(sql.data(), "vacuum", 6) == 0;
}

DbValue column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: return static_cast<int64_t>(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT: return sqlite3_column_double(stmt, i);
    case SQLITE_NULL: return nullptr;
    case SQLITE_BLOB: {
      const void* data = sqlite3_column_blob(stmt, i);
      return DbBytes{std::string(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt, i)))};
    }
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
    }
  }
}

class SqliteConnection final : public DbConnection {
 public:
  SqliteConnection(const std::string& name, const config::DatabaseSettings& settings, const DbRunScope& scope,
                   Clock::duration busy_timeout)
      : DbConnection(name, settings, scope), busy_timeout_(busy_timeout) {}
  ~SqliteConnection() override { close(); }

  // Opens the file with the guards; an error says why.
  DbResult<DbDone> connect() {
    if (sqlite3_open_v2(settings_.sqlite.c_str(), &db_, sqlite_job_open_flags(settings_.readonly), nullptr) != SQLITE_OK) {
      const std::string error = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close_v2(db_);
      db_ = nullptr;
      return DbResult<DbDone>::fail(DbFault::kServer, "db.open: database '" + name_ + "': " + error);
    }
    if (auto why = harden_sqlite(db_)) return DbResult<DbDone>::fail(DbFault::kServer, "db.open: database '" + name_ + "': " + *why);
    sqlite3_busy_handler(db_, wait_while_busy, this);
    sqlite3_progress_handler(db_, kProgressInstructions, interrupt_when_stopped, this);
    sqlite3_set_authorizer(db_, authorize, this);
    if (ensure_dry_transaction() != SQLITE_OK) return server_error(sqlite3_errmsg(db_));
    return DbDone{};
  }

  DbResult<DbBackupCopy> backup(const AllowedPath& dest) override;

 protected:
  DbResult<DbDone> run(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params, DbRows* rows,
                       std::vector<Outcome>& done) override {
    const char* next = sql.data();
    const char* end = next + sql.size();
    int rc = SQLITE_OK;
    auto stmt = compile(next, end, rc);
    if (!stmt) return DbResult<DbDone>::from(stmt);
    if (rc != SQLITE_OK) return server_error(sqlite3_errmsg(db_));
    if (!stmt.value()) return DbResult<DbDone>::fail(DbFault::kMisuse, std::string(caller) + ": no SQL statement given");
    Statement one(stmt.value().release());
    // One statement per call, as on every engine: a second one glued on ("...; DROP TABLE t")
    // never runs. What is left may only be blank, comments or ';'.
    auto more = compile(next, end, rc);
    if (!more) return DbResult<DbDone>::from(more);
    if (more.value() || rc != SQLITE_OK) return DbResult<DbDone>::fail(DbFault::kMisuse, std::string(caller) + ": " + kOneStatement);
    if (auto bound = bind(caller, one.get(), params); !bound) return bound;
    return execute(one.get(), rows, done);
  }

  DbResult<DbDone> control(const std::string& sql) override {
    if (ensure_dry_transaction() != SQLITE_OK || run_internal(sql) != SQLITE_OK) return server_error(sqlite3_errmsg(db_));
    return DbDone{};
  }

  // The outermost live transaction takes the write lock up front: a deferred one that has to
  // upgrade later gets SQLITE_BUSY at once, without waiting.
  std::string begin_sql() const override { return settings_.readonly ? "BEGIN" : "BEGIN IMMEDIATE"; }

  void disconnect() override {
    if (!db_) return;
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);  // a run past its deadline still rolls back
    if (scope_.dry_run()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // undoes all the dry run wrote
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

 private:
  // --- SQLite callbacks: plain C, they never throw ---

  // Waits in short slices instead of SQLite's busy timeout, which cannot see a cancel.
  static int wait_while_busy(void* data, int) {
    auto* c = static_cast<SqliteConnection*>(data);
    const auto now = Clock::now();
    if (now >= c->busy_until_ || c->scope_.cancelled()) return 0;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(10), c->busy_until_ - now));
    return 1;
  }

  // Interrupts a statement at the run's deadline or cancel; the binding then raises the stop.
  static int interrupt_when_stopped(void* data) { return static_cast<SqliteConnection*>(data)->scope_.stop_now(); }

  static int authorize(void* data, int action, const char* arg1, const char* arg2, const char*, const char*) noexcept {
    auto* c = static_cast<SqliteConnection*>(data);
    try {
      if (auto why = sqlite_refusal(action, arg1, arg2, c->compiling_)) {
        c->refusal_ = std::move(*why);
        return SQLITE_DENY;
      }
      // Only while compiling: VACUUM runs its own BEGIN when it executes.
      if (c->compiling_ && (action == SQLITE_TRANSACTION || action == SQLITE_SAVEPOINT)) {
        c->refusal_ = "use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE";
        return SQLITE_DENY;
      }
    } catch (const std::exception&) {  // out of memory for the message: still a refusal
      c->refusal_.clear();
      c->refused_anyway_ = true;
      return SQLITE_DENY;
    }
    return SQLITE_OK;
  }

  // --- helpers ---

  // Before anything that may wait for a lock: the wait ends after the busy timeout, and
  // never later than the run's deadline.
  void arm() {
    busy_until_ = Clock::now() + std::min<Clock::duration>(busy_timeout_, scope_.time_left());
    refusal_.clear();
    refused_anyway_ = false;
  }
  bool refused() const { return !refusal_.empty() || refused_anyway_; }
  DbResult<DbDone> refusal() const {
    return DbResult<DbDone>::fail(DbFault::kRefused, error_text(refusal_.empty() ? "refused" : refusal_));
  }

  // The API's own SQL (transaction control), which the authorizer lets through.
  int run_internal(const std::string& sql) {
    arm();
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }

  // SQLite rolls a transaction back by itself after some errors (disk full, I/O); a dry run
  // must never fall back to autocommit, where its writes would be kept.
  int ensure_dry_transaction() {
    return scope_.dry_run() && sqlite3_get_autocommit(db_) ? run_internal("BEGIN") : SQLITE_OK;
  }

  // Compiles the next statement of [sql, end) and moves `sql` past it: null at the end of
  // the text or on an SQL error (`rc` says which); kRefused when the authorizer said no.
  DbResult<Statement> compile(const char*& sql, const char* end, int& rc) {
    sqlite3_stmt* raw = nullptr;
    arm();  // compiling may read the schema, which may be locked
    compiling_ = true;
    rc = sqlite3_prepare_v2(db_, sql, static_cast<int>(end - sql), &raw, &sql);
    compiling_ = false;
    Statement stmt(raw);
    if (refused()) return DbResult<Statement>::from(refusal());
    return stmt;
  }

  DbResult<DbDone> bind(std::string_view caller, sqlite3_stmt* stmt, const std::vector<DbValue>& params) {
    const int given = static_cast<int>(params.size());
    const int wanted = sqlite3_bind_parameter_count(stmt);
    if (given != wanted)
      return DbResult<DbDone>::fail(DbFault::kMisuse,
                                    std::string(caller) + ": the SQL has " + std::to_string(wanted) + " placeholder" +
                                        (wanted == 1 ? "" : "s") + " but " + std::to_string(given) +
                                        (given == 1 ? " value was" : " values were") + " given");
    for (int i = 1; i <= given; ++i) {
      const DbValue& value = params[static_cast<size_t>(i - 1)];
      if (std::holds_alternative<std::nullptr_t>(value)) sqlite3_bind_null(stmt, i);
      else if (const auto* b = std::get_if<bool>(&value)) sqlite3_bind_int(stmt, i, *b ? 1 : 0);
      else if (const auto* n = std::get_if<int64_t>(&value)) sqlite3_bind_int64(stmt, i, *n);
      else if (const auto* d = std::get_if<double>(&value)) sqlite3_bind_double(stmt, i, *d);
      else if (const auto* s = std::get_if<std::string>(&value))
        sqlite3_bind_text64(stmt, i, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      else if (const auto* bytes = std::get_if<DbBytes>(&value))
        sqlite3_bind_blob64(stmt, i, bytes->data.data(), bytes->data.size(), SQLITE_TRANSIENT);
    }
    return DbDone{};
  }

  // Runs the statement to its end, adding its rows when `rows`, and records it in `done`.
  DbResult<DbDone> execute(sqlite3_stmt* stmt, DbRows* rows, std::vector<Outcome>& done) {
    if (ensure_dry_transaction() != SQLITE_OK) return server_error(sqlite3_errmsg(db_));
    if (scope_.dry_run() && is_vacuum(stmt)) {
      done.push_back({sqlite3_sql(stmt), 0, true, true});
      return DbDone{};
    }
    const int columns = sqlite3_column_count(stmt);
    if (rows && rows->columns.empty())
      for (int i = 0; i < columns; ++i) {
        const char* column = sqlite3_column_name(stmt, i);  // null only when out of memory
        rows->columns.emplace_back(column ? column : "?");
      }
    const int64_t before = sqlite3_total_changes64(db_);
    arm();
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!rows) continue;
      std::vector<DbValue> row;
      row.reserve(static_cast<size_t>(columns));
      for (int i = 0; i < columns; ++i) row.push_back(column_value(stmt, i));
      if (auto added = add_row(*rows, std::move(row)); !added) return added;
    }
    if (refused()) return refusal();
    if (rc != SQLITE_DONE) return server_error(sqlite3_errmsg(db_));
    // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE, stale after DDL.
    const int64_t changes = sqlite3_total_changes64(db_) == before ? 0 : sqlite3_changes64(db_);
    done.push_back({sqlite3_sql(stmt), changes, !sqlite3_stmt_readonly(stmt), false});
    return DbDone{};
  }

  int64_t pragma_integer(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
    Statement stmt(raw);
    return stmt && sqlite3_step(stmt.get()) == SQLITE_ROW ? sqlite3_column_int64(stmt.get(), 0) : 0;
  }

  sqlite3* db_ = nullptr;
  Clock::duration busy_timeout_;
  Clock::time_point busy_until_{};
  bool compiling_ = false;        // the script's own SQL is being compiled
  std::string refusal_;           // the authorizer said no: why
  bool refused_anyway_ = false;   // it said no without a message (out of memory)
};

// The destination is opened beneath its allowed folder (api/beneath.hpp) and SQLite writes
// the copy through that folder's descriptor, so no folder swapped for a symlink can send it out.
DbResult<DbBackupCopy> SqliteConnection::backup(const AllowedPath& dest) {
  using R = DbResult<DbBackupCopy>;
  if (closed()) return R::fail(DbFault::kMisuse, "conn:backup: attempt to use a closed conn");
  const std::string shown = dest.path().string();
  if (auto target = dest.open(O_PATH); !target && dest.is_denial(target.message()))
    return R::fail(DbFault::kRefused, target.message());
  auto parent = dest.open_parent(!scope_.dry_run());  // folders made only in a live run
  if (!parent && dest.is_denial(parent.message())) return R::fail(DbFault::kRefused, parent.message());
  struct stat existing {}, database {};
  // The copy is renamed into place, which would swap the file under every open connection.
  if (parent && ::fstatat(parent->folder.get(), parent->name.c_str(), &existing, 0) == 0 &&
      ::stat(settings_.sqlite.c_str(), &database) == 0 && existing.st_dev == database.st_dev &&
      existing.st_ino == database.st_ino)
    return R::fail(DbFault::kMisuse, "conn:backup: " + shown + " is the database itself");
  if (scope_.dry_run()) {
    if (ensure_dry_transaction() != SQLITE_OK) return R::from(server_error(sqlite3_errmsg(db_)));
    const int64_t pages = pragma_integer("PRAGMA page_count");
    const auto bytes = static_cast<uintmax_t>(pages * pragma_integer("PRAGMA page_size"));
    scope_.effects->capture({"db",
                             scope_.redact(name_ + ": backup -> " + shown + " (" + std::to_string(pages) + " pages, " +
                                           std::to_string(bytes) + " bytes)"),
                             {{"database", name_},
                              {"backup", scope_.redact(printable(shown, 4096))},
                              {"pages", pages},
                              {"bytes", bytes}}});
    scope_.effects->add_virtual_file(dest.path(), bytes);
    return DbBackupCopy{bytes, pages, true};
  }
  if (!parent) return R::fail(DbFault::kServer, "db: " + name_ + ": backup to " + shown + ": " + parent.message());
  auto copy = backup_sqlite(db_, parent->folder.get(), parent->name, [this] {
    arm();  // each step may wait for the lock afresh
    return !scope_.stop_now();
  });
  if (!copy) return R::fail(DbFault::kServer, "db: " + name_ + ": backup to " + shown + ": " + copy.message());
  return DbBackupCopy{copy->bytes, copy->pages, false};
}

}  // namespace

DbResult<std::unique_ptr<DbConnection>> open_sqlite(const std::string& name, const config::DatabaseSettings& settings,
                                                    const DbRunScope& scope, const DbOpenOptions& options) {
  using R = DbResult<std::unique_ptr<DbConnection>>;
  std::error_code ec;
  if (!fs::exists(settings.sqlite, ec))
    return R::fail(DbFault::kServer, "db.open: database '" + name + "' file " + settings.sqlite.string() + " does not exist");
  // SQLITE_OPEN_NOFOLLOW refuses a symlink anywhere in the path, but only as "unable to
  // open database file": say which.
  if (fs::is_symlink(settings.sqlite, ec))
    return R::fail(DbFault::kServer, "db.open: database '" + name + "': " + settings.sqlite.string() +
                                         " is a symlink; name the file itself in databases:");
  if (const fs::path real = fs::canonical(settings.sqlite, ec);
      !ec && real != fs::absolute(settings.sqlite, ec).lexically_normal())
    return R::fail(DbFault::kServer, "db.open: database '" + name + "': " + settings.sqlite.string() +
                                         " goes through a symlink to " + real.string() + "; name the real path in databases:");
  auto conn = std::make_unique<SqliteConnection>(name, settings, scope, options.busy_timeout);
  if (auto connected = conn->connect(); !connected) return R::from(connected);
  return R(std::move(conn));
}

}  // namespace cronhost::api
