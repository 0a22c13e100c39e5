// db: the SQLite databases the host config names (databases:) and the job allows (allow.db).
//
//   local conn <close> = db.open("app")                 -- db.open("app", {busy_timeout = 2})
//   local rows, err = conn:query("SELECT id, name FROM users WHERE active = ? AND age > ?", true, 30)
//   for _, row in ipairs(rows) do log.info(row.id, " ", row.name) end   -- SQL NULL is json.null
//   local n, err = conn:exec("DELETE FROM sessions WHERE expires < ?", os.time())   -- rows changed
//   conn:transaction(function(c) c:exec(...); c:exec(...) end)  -- COMMIT; on error ROLLBACK, re-raised
//   local copy, err = conn:backup("/var/backups/app/app.db")    -- {bytes = N, pages = P}
//   conn:close()                                                -- or at the end of its scope or run
//
// Values reach SQL only as bound parameters (?): nil, booleans, numbers, strings or json.null.
// SQL errors, a database locked for longer than the busy timeout (5 s, never past the run's
// deadline) and writes to a readonly database return nil, err; misuse and denials raise.
// BEGIN/COMMIT/SAVEPOINT belong to conn:transaction. ATTACH, DETACH, VACUUM INTO,
// load_extension and pragmas that change how the file is kept are refused (api/sqlite_guard):
// they would reach files that allow.db does not name. In a dry run everything happens inside
// a transaction rolled back at close: reads are real, writes run (so later reads see them)
// and are captured, VACUUM is captured only (SQLite cannot run it inside a transaction), and
// backup is captured with a virtual file in place of the copy.
#include <cctype>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <strings.h>
#include <sqlite3.h>
#include <thread>
#include <type_traits>

#include "api/beneath.hpp"
#include "api/permissions.hpp"
#include "api/sqlite_backup.hpp"
#include "api/sqlite_guard.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kConnMeta = "cronhost.db.conn";
// SQLite's memory lies outside the run's Lua memory cap, so the connections are capped instead.
constexpr int kMaxOpenConnections = 8;
constexpr auto kDefaultBusyTimeout = std::chrono::seconds(5);
// SQLite calls the progress handler every this many VM instructions, as the Lua hook does
// for scripts, so that one long statement cannot outlive the run's deadline.
constexpr int kProgressInstructions = 10000;
constexpr size_t kSummarySqlChars = 160;

int open_count_key = 0;  // registry: connections this run holds open

// Userdata: Lua frees it without a destructor, so it holds nothing that needs one.
struct Conn {
  sqlite3* db = nullptr;  // null once closed
  const std::string* name = nullptr;  // a key of the host config, which outlives the run
  const fs::path* file = nullptr;     // its value's path, likewise
  run::RunContext* ctx = nullptr;
  bool readonly = false;
  bool dry_run = false;
  bool compiling = false;         // the script's own SQL is being compiled
  bool refused = false;           // the authorizer said no; refusal says why
  char refusal[256] = {};
  int depth = 0;                  // conn:transaction calls in progress
  Clock::duration busy_timeout{};
  Clock::time_point busy_until{};
};
static_assert(std::is_trivially_destructible_v<Conn>);

struct Finalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, Finalizer>;

// --- SQLite callbacks: plain C, they never raise ---

// Waits in short slices instead of SQLite's busy timeout, which cannot see a cancel.
int wait_while_busy(void* data, int) {
  auto* c = static_cast<Conn*>(data);
  const auto now = Clock::now();
  if (now >= c->busy_until || c->ctx->cancelled()) return 0;
  std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(10), c->busy_until - now));
  return 1;
}

// Interrupts a statement at the run's deadline or cancel; the binding then raises the stop.
int interrupt_when_stopped(void* data) {
  const auto* c = static_cast<Conn*>(data);
  return c->ctx->cancelled() || Clock::now() >= c->ctx->deadline;
}

void refuse(Conn& c, std::string_view why) {
  const size_t n = std::min(why.size(), sizeof c.refusal - 1);
  std::memcpy(c.refusal, why.data(), n);
  c.refusal[n] = '\0';
  c.refused = true;
}

// Plain C as SQLite calls it: nothing may throw out of here, so a refusal is copied, not raised.
int authorize(void* data, int action, const char* arg1, const char* arg2, const char*, const char*) noexcept {
  auto* c = static_cast<Conn*>(data);
  try {
    if (auto why = api::sqlite_refusal(action, arg1, arg2, c->compiling)) {
      refuse(*c, *why);
      return SQLITE_DENY;
    }
  } catch (const std::exception&) {  // out of memory for the message: still a refusal
    refuse(*c, "refused");
    return SQLITE_DENY;
  }
  // Only while compiling: VACUUM runs its own BEGIN when it executes.
  if (c->compiling && (action == SQLITE_TRANSACTION || action == SQLITE_SAVEPOINT)) {
    refuse(*c, "use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE");
    return SQLITE_DENY;
  }
  return SQLITE_OK;
}

// --- helpers ---

int adjust_open_count(lua_State* L, int delta) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &open_count_key);
  const int count = static_cast<int>(lua_tointeger(L, -1)) + delta;
  lua_pop(L, 1);
  lua_pushinteger(L, count);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &open_count_key);
  return count;
}

Conn& check_conn(lua_State* L, const char* function) {
  auto* c = static_cast<Conn*>(luaL_checkudata(L, 1, kConnMeta));
  if (!c->db) raise(L, std::string(function) + ": attempt to use a closed conn");
  return *c;
}

std::string sql_error(const Conn& c) { return "db: " + *c.name + ": " + sqlite3_errmsg(c.db); }

// Before anything that may wait for a lock: the wait ends after the busy timeout, and
// never later than the run's deadline.
void arm(Conn& c) {
  const auto now = Clock::now();
  c.busy_until = now + std::min(c.busy_timeout, std::max(c.ctx->deadline - now, Clock::duration::zero()));
  c.refused = false;
}

// The binding's own SQL (transaction control), which the authorizer lets through.
int run_internal(Conn& c, const std::string& sql) {
  arm(c);
  return sqlite3_exec(c.db, sql.c_str(), nullptr, nullptr, nullptr);
}

// SQLite rolls a transaction back by itself after some errors (disk full, I/O); a dry run
// must never fall back to autocommit, where its writes would be kept.
int ensure_dry_transaction(Conn& c) {
  return c.dry_run && sqlite3_get_autocommit(c.db) ? run_internal(c, "BEGIN") : SQLITE_OK;
}

void release(lua_State* L, Conn& c) {
  if (!c.db) return;
  sqlite3_progress_handler(c.db, 0, nullptr, nullptr);  // a run past its deadline still rolls back
  if (c.dry_run) sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);  // undoes all the dry run wrote
  sqlite3_close_v2(c.db);
  c.db = nullptr;
  adjust_open_count(L, -1);
}

// Compiles the next statement of [sql, end) and moves `sql` past it. Null at the end of the
// text, or on an SQL error (`rc` says which); a refused statement raises.
Statement compile(lua_State* L, Conn& c, const char*& sql, const char* end, int& rc) {
  sqlite3_stmt* raw = nullptr;
  arm(c);  // compiling may read the schema, which may be locked
  c.compiling = true;
  rc = sqlite3_prepare_v2(c.db, sql, static_cast<int>(end - sql), &raw, &sql);
  c.compiling = false;
  Statement stmt(raw);
  if (c.refused) raise(L, "db: " + *c.name + ": " + c.refusal);
  return stmt;
}

// The one statement of `sql`, for calls with values: they bind to a single statement.
Statement compile_one(lua_State* L, Conn& c, std::string_view sql, const std::string& function) {
  const char* next = sql.data();
  const char* end = next + sql.size();
  int rc = SQLITE_OK;
  Statement stmt = compile(L, c, next, end, rc);
  if (rc != SQLITE_OK) return nullptr;
  if (!stmt) raise(L, function + ": no SQL statement given");
  if (compile(L, c, next, end, rc) || rc != SQLITE_OK)
    raise(L, function + ": give one SQL statement per call when it has values to bind");
  return stmt;
}

// Binds the values at [first, top] to the statement's placeholders and returns them as a
// dry run records them.
nlohmann::json bind(lua_State* L, sqlite3_stmt* stmt, int first, const std::string& function) {
  const run::RunContext& ctx = run::LuaSandbox::context(L);
  const int given = std::max(0, lua_gettop(L) - first + 1);
  const int wanted = sqlite3_bind_parameter_count(stmt);
  if (given != wanted)
    raise(L, function + ": the SQL has " + std::to_string(wanted) + " placeholder" + (wanted == 1 ? "" : "s") +
                 " but " + std::to_string(given) + (given == 1 ? " value was" : " values were") + " given");
  push_json(L, nullptr);  // json.null, to recognise it
  const int null_index = lua_gettop(L);
  nlohmann::json values = nlohmann::json::array();
  for (int i = 1; i <= given; ++i) {
    const int index = first + i - 1;
    const int type = lua_type(L, index);
    if (type == LUA_TNIL || (type == LUA_TLIGHTUSERDATA && lua_rawequal(L, index, null_index))) {
      sqlite3_bind_null(stmt, i);
      values.push_back(nullptr);
    } else if (type == LUA_TBOOLEAN) {
      sqlite3_bind_int(stmt, i, lua_toboolean(L, index));
      values.push_back(lua_toboolean(L, index) != 0);
    } else if (type == LUA_TNUMBER && lua_isinteger(L, index)) {
      sqlite3_bind_int64(stmt, i, lua_tointeger(L, index));
      values.push_back(lua_tointeger(L, index));
    } else if (type == LUA_TNUMBER) {
      sqlite3_bind_double(stmt, i, lua_tonumber(L, index));
      values.push_back(lua_tonumber(L, index));
    } else if (type == LUA_TSTRING) {
      size_t len = 0;
      const char* text = lua_tolstring(L, index, &len);
      sqlite3_bind_text64(stmt, i, text, len, SQLITE_TRANSIENT, SQLITE_UTF8);
      values.push_back(ctx.redact(printable({text, len}, 200)));
    } else {
      raise(L, function + ": value " + std::to_string(i) + " must be nil, a boolean, a number or a string (got " +
                   luaL_typename(L, index) + ")");
    }
  }
  lua_pop(L, 1);
  return values;
}

void push_row(lua_State* L, sqlite3_stmt* stmt, int null_index) {
  const int columns = sqlite3_column_count(stmt);
  lua_createtable(L, 0, columns);
  for (int i = 0; i < columns; ++i) {
    const int type = sqlite3_column_type(stmt, i);
    if (type == SQLITE_INTEGER) {
      lua_pushinteger(L, sqlite3_column_int64(stmt, i));
    } else if (type == SQLITE_FLOAT) {
      lua_pushnumber(L, sqlite3_column_double(stmt, i));
    } else if (type == SQLITE_NULL) {
      lua_pushvalue(L, null_index);
    } else {  // text and blobs are both Lua strings
      const void* data = type == SQLITE_BLOB ? sqlite3_column_blob(stmt, i) : sqlite3_column_text(stmt, i);
      lua_pushlstring(L, static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
    }
    const char* column = sqlite3_column_name(stmt, i);  // null only when out of memory
    lua_setfield(L, -2, column ? column : "?");
  }
}

// VACUUM cannot run inside the dry run's transaction (SQLite refuses), and it changes no
// rows, so a dry run only records it.
bool is_vacuum(sqlite3_stmt* stmt) {
  std::string_view sql = sqlite3_sql(stmt);
  while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.front()))) sql.remove_prefix(1);
  return sql.size() >= 6 && strncasecmp(sql.data(), "vacuum", 6) == 0;
}

void record_write(lua_State* L, const Conn& c, sqlite3_stmt* stmt, const nlohmann::json& values, int64_t changes,
                  const char* outcome) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  std::string sql;  // on one line, for the summary
  for (const char* p = sqlite3_sql(stmt); *p; ++p) {
    const bool space = std::isspace(static_cast<unsigned char>(*p));
    if (!space) sql += *p;
    else if (!sql.empty() && sql.back() != ' ') sql += ' ';
  }
  while (!sql.empty() && sql.back() == ' ') sql.pop_back();
  if (sql.size() > kSummarySqlChars) sql = sql.substr(0, kSummarySqlChars) + "...";
  const std::string summary = *c.name + ": " + printable(sql, sql.size()) +
                              (values.empty() ? "" : " (params: " + std::to_string(values.size()) + ")") + " -> " +
                              std::to_string(changes) + (changes == 1 ? " row" : " rows") + " (" + outcome + ")";
  ctx.effects.capture({"db", ctx.redact(summary),
                       {{"database", *c.name},
                        {"sql", ctx.redact(printable(sqlite3_sql(stmt), 4096))},
                        {"params", values},
                        {"changes", changes}}});
}

// Runs the statement to its end, appending rows to the table on top of the stack when
// `rows`, and sets `changes`. In a dry run a write is recorded as it runs. False when SQLite
// failed: sql_error(c) says why.
bool execute(lua_State* L, Conn& c, sqlite3_stmt* stmt, const nlohmann::json& values, bool rows, int64_t& changes) {
  if (ensure_dry_transaction(c) != SQLITE_OK) return false;
  if (c.dry_run && is_vacuum(stmt)) {
    changes = 0;
    record_write(L, c, stmt, values, changes, "not run in a dry run");
    return true;
  }
  const int table = lua_gettop(L);
  push_json(L, nullptr);
  const int null_index = lua_gettop(L);
  const int64_t before = sqlite3_total_changes64(c.db);
  arm(c);
  lua_Integer count = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (!rows) continue;
    push_row(L, stmt, null_index);
    lua_rawseti(L, table, ++count);
  }
  lua_pop(L, 1);
  if (rc == SQLITE_INTERRUPT) run::LuaSandbox::check_stop(L);
  if (c.refused) raise(L, "db: " + *c.name + ": " + c.refusal);
  if (rc != SQLITE_DONE) return false;
  // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE, stale after DDL.
  changes = sqlite3_total_changes64(c.db) == before ? 0 : sqlite3_changes64(c.db);
  if (c.dry_run && !sqlite3_stmt_readonly(stmt)) record_write(L, c, stmt, values, changes, "rolled back");
  return true;
}

int64_t pragma_integer(Conn& c, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(c.db, sql, -1, &raw, nullptr);
  Statement stmt(raw);
  return stmt && sqlite3_step(stmt.get()) == SQLITE_ROW ? sqlite3_column_int64(stmt.get(), 0) : 0;
}

void push_copy(lua_State* L, uintmax_t bytes, int64_t pages, bool dry_run) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, static_cast<lua_Integer>(bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, pages);
  lua_setfield(L, -2, "pages");
  if (dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
}

// --- functions ---

int db_open(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string name = luaL_checkstring(L, 1);
  Clock::duration busy_timeout = kDefaultBusyTimeout;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "db.open", {"busy_timeout"});
    if (auto seconds = options.number("busy_timeout")) {
      if (!(*seconds >= 0)) options.error("field 'busy_timeout' must be a number of seconds, 0 or more");
      busy_timeout = std::chrono::milliseconds(static_cast<int64_t>(std::min(*seconds, 86400.0) * 1000));
    }
  }
  if (auto allowed = api::check_db(ctx.job, name); !allowed) raise(L, allowed.message());
  const std::string* key = nullptr;
  const config::DatabaseSettings* settings = nullptr;
  if (ctx.host)
    if (auto found = ctx.host->databases.find(name); found != ctx.host->databases.end()) {
      key = &found->first;
      settings = &found->second;
    }
  if (!settings) raise(L, "db.open: no database '" + name + "' in the host config (databases:)");
  std::error_code ec;
  if (!fs::exists(settings->sqlite, ec))
    return fail(L, "db.open: database '" + name + "' file " + settings->sqlite.string() + " does not exist");
  // SQLITE_OPEN_NOFOLLOW refuses a symlink anywhere in the path, but only as "unable to
  // open database file": say which.
  if (fs::is_symlink(settings->sqlite, ec))
    return fail(L, "db.open: database '" + name + "': " + settings->sqlite.string() +
                       " is a symlink; name the file itself in databases:");
  if (const fs::path real = fs::canonical(settings->sqlite, ec);
      !ec && real != fs::absolute(settings->sqlite, ec).lexically_normal())
    return fail(L, "db.open: database '" + name + "': " + settings->sqlite.string() + " goes through a symlink to " +
                       real.string() + "; name the real path in databases:");
  if (adjust_open_count(L, 0) >= kMaxOpenConnections)
    raise(L, "db.open: a run may hold " + std::to_string(kMaxOpenConnections) + " connections open; close one first");

  // The userdata first, so that nothing can leak the connection once it is open.
  auto* c = new (lua_newuserdatauv(L, sizeof(Conn), 0)) Conn{};
  luaL_setmetatable(L, kConnMeta);
  c->name = key;
  c->file = &settings->sqlite;
  c->ctx = &ctx;
  c->readonly = settings->readonly;
  c->dry_run = !ctx.effects.live();
  c->busy_timeout = busy_timeout;
  if (sqlite3_open_v2(settings->sqlite.c_str(), &c->db, api::sqlite_job_open_flags(settings->readonly), nullptr) !=
      SQLITE_OK) {
    const std::string error = c->db ? sqlite3_errmsg(c->db) : "out of memory";
    sqlite3_close_v2(c->db);
    c->db = nullptr;
    return fail(L, "db.open: database '" + name + "': " + error);
  }
  adjust_open_count(L, 1);
  if (auto why = api::harden_sqlite(c->db)) {
    release(L, *c);
    return fail(L, "db.open: database '" + name + "': " + *why);
  }
  sqlite3_busy_handler(c->db, wait_while_busy, c);
  sqlite3_progress_handler(c->db, kProgressInstructions, interrupt_when_stopped, c);
  sqlite3_set_authorizer(c->db, authorize, c);
  if (ensure_dry_transaction(*c) != SQLITE_OK) {
    const std::string error = sql_error(*c);
    release(L, *c);
    return fail(L, error);
  }
  return 1;
}

int conn_query(lua_State* L) {
  Conn& c = check_conn(L, "conn:query");
  size_t len = 0;
  const char* sql = luaL_checklstring(L, 2, &len);
  Statement stmt = compile_one(L, c, {sql, len}, "conn:query");
  if (!stmt) return fail(L, sql_error(c));
  const nlohmann::json values = bind(L, stmt.get(), 3, "conn:query");
  lua_newtable(L);
  int64_t changes = 0;
  if (!execute(L, c, stmt.get(), values, true, changes)) return fail(L, sql_error(c));
  return 1;
}

// With values: one statement. Without: every statement in the text, in order, stopping at
// the first error (those before it stay done; conn:transaction makes them all or nothing).
int conn_exec(lua_State* L) {
  Conn& c = check_conn(L, "conn:exec");
  size_t len = 0;
  const char* sql = luaL_checklstring(L, 2, &len);
  int64_t total = 0;
  if (lua_gettop(L) > 2) {
    Statement stmt = compile_one(L, c, {sql, len}, "conn:exec");
    if (!stmt) return fail(L, sql_error(c));
    const nlohmann::json values = bind(L, stmt.get(), 3, "conn:exec");
    if (!execute(L, c, stmt.get(), values, false, total)) return fail(L, sql_error(c));
  } else {
    const char* next = sql;
    bool any = false;
    for (;;) {
      int rc = SQLITE_OK;
      Statement stmt = compile(L, c, next, sql + len, rc);
      if (rc != SQLITE_OK) return fail(L, sql_error(c));
      if (!stmt) break;
      any = true;
      const nlohmann::json values = bind(L, stmt.get(), 3, "conn:exec");
      int64_t changes = 0;
      if (!execute(L, c, stmt.get(), values, false, changes)) return fail(L, sql_error(c));
      total += changes;
    }
    if (!any) raise(L, "conn:exec: no SQL statement given");
  }
  lua_pushinteger(L, total);
  return 1;
}

int conn_transaction(lua_State* L) {
  Conn& c = check_conn(L, "conn:transaction");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  // Nested calls, and every call in a dry run (already inside its own transaction), are
  // savepoints. The outermost live one takes the write lock up front: a deferred
  // transaction that has to upgrade later gets SQLITE_BUSY at once, without waiting.
  const bool savepoint = c.dry_run || c.depth > 0;
  const std::string name = "cronhost_" + std::to_string(c.depth + 1);
  const std::string begin = savepoint ? "SAVEPOINT " + name : c.readonly ? "BEGIN" : "BEGIN IMMEDIATE";
  const std::string commit = savepoint ? "RELEASE " + name : "COMMIT";
  const std::string rollback = savepoint ? "ROLLBACK TO " + name + "; RELEASE " + name : "ROLLBACK";
  if (ensure_dry_transaction(c) != SQLITE_OK || run_internal(c, begin) != SQLITE_OK) return fail(L, sql_error(c));
  ++c.depth;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  const int status = lua_pcall(L, 1, LUA_MULTRET, 0);
  --c.depth;
  if (status != LUA_OK) {
    if (c.db) run_internal(c, rollback);
    return lua_error(L);  // the script's error, as it was
  }
  if (!c.db) raise(L, "conn:transaction: the conn was closed inside the transaction");
  if (run_internal(c, commit) != SQLITE_OK) {
    const std::string error = sql_error(c);
    run_internal(c, rollback);
    return fail(L, error);
  }
  return lua_gettop(L) - 2;
}

// The destination is opened beneath its allowed folder (api/beneath.hpp) and SQLite writes
// the copy through that folder's descriptor, so no folder swapped for a symlink can send it out.
int conn_backup(lua_State* L) {
  Conn& c = check_conn(L, "conn:backup");
  run::RunContext& ctx = run::LuaSandbox::context(L);
  auto located = api::AllowedPath::locate(ctx.job, luaL_checkstring(L, 2));
  if (!located) raise(L, located.message());
  const api::AllowedPath& dest = located.value();
  const std::string shown = dest.path().string();
  if (auto target = dest.open(O_PATH); !target && dest.is_denial(target.message())) raise(L, target.message());
  auto parent = dest.open_parent(!c.dry_run);  // folders made only in a live run
  if (!parent && dest.is_denial(parent.message())) raise(L, parent.message());
  struct stat existing {}, database {};
  // The copy is renamed into place, which would swap the file under every open connection.
  if (parent && ::fstatat(parent->folder.get(), parent->name.c_str(), &existing, 0) == 0 &&
      ::stat(c.file->c_str(), &database) == 0 && existing.st_dev == database.st_dev && existing.st_ino == database.st_ino)
    raise(L, "conn:backup: " + shown + " is the database itself");
  if (c.dry_run) {
    if (ensure_dry_transaction(c) != SQLITE_OK) return fail(L, sql_error(c));
    const int64_t pages = pragma_integer(c, "PRAGMA page_count");
    const auto bytes = static_cast<uintmax_t>(pages * pragma_integer(c, "PRAGMA page_size"));
    ctx.effects.capture({"db",
                         ctx.redact(*c.name + ": backup -> " + shown + " (" + std::to_string(pages) +
                                    " pages, " + std::to_string(bytes) + " bytes)"),
                         {{"database", *c.name}, {"backup", ctx.redact(printable(shown, 4096))},
                          {"pages", pages}, {"bytes", bytes}}});
    ctx.effects.add_virtual_file(dest.path(), bytes);
    push_copy(L, bytes, pages, true);
    return 1;
  }
  if (!parent) return fail(L, "db: " + *c.name + ": backup to " + shown + ": " + parent.message());
  auto copy = api::backup_sqlite(c.db, parent->folder.get(), parent->name, [&c] {
    arm(c);  // each step may wait for the lock afresh
    return !c.ctx->cancelled() && Clock::now() < c.ctx->deadline;
  });
  if (!copy) {
    run::LuaSandbox::check_stop(L);
    return fail(L, "db: " + *c.name + ": backup to " + shown + ": " + copy.message());
  }
  push_copy(L, copy->bytes, copy->pages, false);
  return 1;
}

int conn_close(lua_State* L) {
  release(L, check_conn(L, "conn:close"));
  return 0;
}

// __gc and __close: a second close is nothing.
int conn_release(lua_State* L) {
  release(L, *static_cast<Conn*>(luaL_checkudata(L, 1, kConnMeta)));
  return 0;
}

int conn_tostring(lua_State* L) {
  const auto* c = static_cast<Conn*>(luaL_checkudata(L, 1, kConnMeta));
  lua_pushfstring(L, "%s (%s)", kConnMeta, c->db ? c->name->c_str() : "closed");
  return 1;
}

const luaL_Reg kDbFunctions[] = {{"open", guarded<db_open>}, {nullptr, nullptr}};

const luaL_Reg kConnMethods[] = {{"query", guarded<conn_query>},
                                 {"exec", guarded<conn_exec>},
                                 {"transaction", guarded<conn_transaction>},
                                 {"backup", guarded<conn_backup>},
                                 {"close", guarded<conn_close>},
                                 {nullptr, nullptr}};

const luaL_Reg kConnMetamethods[] = {
    {"__gc", conn_release}, {"__close", conn_release}, {"__tostring", conn_tostring}, {nullptr, nullptr}};

}  // namespace

void open_db(lua_State* L) {
  luaL_newmetatable(L, kConnMeta);
  luaL_setfuncs(L, kConnMetamethods, 0);
  luaL_newlib(L, kConnMethods);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, kConnMeta);  // getmetatable(conn) shows the name, not the methods
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_newlib(L, kDbFunctions);
  lua_setglobal(L, "db");
}

}  // namespace cronhost::bindings
