// db: the databases the host config names (databases:) and the job allows (allow.db).
//
//   local conn <close> = db.open("app")                 -- db.open("app", {busy_timeout = 2})
//   local rows, err = conn:query("SELECT id, name FROM users WHERE active = ? AND age > ?", true, 30)
//   for _, row in ipairs(rows) do log.info(row.id, " ", row.name) end   -- SQL NULL is json.null
//   local n, err = conn:exec("DELETE FROM sessions WHERE expires < ?", os.time())   -- rows changed
//   conn:transaction(function(c) c:exec(...); c:exec(...) end)  -- COMMIT; on error ROLLBACK, re-raised
//   local copy, err = conn:backup("/var/backups/app/app.db")    -- {bytes = N, pages = P}
//   conn:close()                                                -- or at the end of its scope or run
//   local d, err = db.dump("app", {path = "/var/backups/app/app.sql.gz", format = "plain", gzip = true})
//   -- {path, bytes, duration_ms, tables, engine}: pg_dump / mariadb-dump run by the host (api/db_dump)
//
// The same script runs on SQLite, PostgreSQL and MySQL/MariaDB (api/db_sqlite, db_postgres,
// db_mysql). Values reach SQL only as bound parameters (?): nil, booleans, numbers, strings or
// json.null; one statement per call. SQL errors, a lost server, a lock held past the busy
// timeout and writes to a readonly database return nil, err; misuse and refusals raise
// (each engine's: api/sqlite_guard, api/sql_text, api/mysql_rules). BEGIN/COMMIT/SAVEPOINT
// belong to conn:transaction. In a dry run everything happens inside a transaction rolled
// back at close: reads are real, writes run (so later reads see them) and are captured; what
// cannot run inside it (SQLite's VACUUM, MySQL's DDL) is captured only, and backup and dump
// leave a virtual file in place of the copy.
//
// This file only converts between Lua and the db API (api/db_sessions, api/db_connection),
// which plugins use too.
#include <type_traits>

#include "api/beneath.hpp"
#include "api/call_fields.hpp"
#include "api/db_dump.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

constexpr const char* kConnMeta = "cronhost.db.conn";

// Userdata: Lua frees it without a destructor; the connection belongs to the run's sessions.
struct Conn {
  api::DbConnection* conn = nullptr;  // null once closed
};
static_assert(std::is_trivially_destructible_v<Conn>);

api::DbConnection& check_conn(lua_State* L, const char* function) {
  auto* c = static_cast<Conn*>(luaL_checkudata(L, 1, kConnMeta));
  if (!c->conn) raise(L, std::string(function) + ": attempt to use a closed conn");
  return *c->conn;
}

// A failed call: the run's stop (deadline, cancel) first, then raise for the script's own
// mistakes and refusals, or return nil, err for what the database said.
template <typename T>
int failed(lua_State* L, const api::DbResult<T>& result) {
  run::LuaSandbox::check_stop(L);
  if (result.fault() != api::DbFault::kServer) raise(L, result.message());
  return fail(L, result.message());
}

// The values at [first, top], for the statement's placeholders.
std::vector<api::DbValue> values_at(lua_State* L, int first, const std::string& function) {
  std::vector<api::DbValue> values;
  push_json(L, nullptr);  // json.null, to recognise it
  const int null_index = lua_gettop(L);
  for (int index = first; index < null_index; ++index) {
    const int type = lua_type(L, index);
    if (type == LUA_TNIL || (type == LUA_TLIGHTUSERDATA && lua_rawequal(L, index, null_index))) {
      values.emplace_back(nullptr);
    } else if (type == LUA_TBOOLEAN) {
      values.emplace_back(lua_toboolean(L, index) != 0);
    } else if (type == LUA_TNUMBER && lua_isinteger(L, index)) {
      values.emplace_back(static_cast<int64_t>(lua_tointeger(L, index)));
    } else if (type == LUA_TNUMBER) {
      values.emplace_back(static_cast<double>(lua_tonumber(L, index)));
    } else if (type == LUA_TSTRING) {
      size_t len = 0;
      const char* text = lua_tolstring(L, index, &len);
      values.emplace_back(std::string(text, len));
    } else {
      raise(L, function + ": value " + std::to_string(index - first + 1) +
                   " must be nil, a boolean, a number or a string (got " + luaL_typename(L, index) + ")");
    }
  }
  lua_pop(L, 1);
  return values;
}

void push_value(lua_State* L, const api::DbValue& value, int null_index) {
  struct Visit {
    lua_State* L;
    int null_index;
    void operator()(std::nullptr_t) const { lua_pushvalue(L, null_index); }
    void operator()(bool b) const { lua_pushboolean(L, b); }
    void operator()(int64_t i) const { lua_pushinteger(L, i); }
    void operator()(double d) const { lua_pushnumber(L, d); }
    void operator()(const std::string& s) const { lua_pushlstring(L, s.data(), s.size()); }
    void operator()(const api::DbBytes& b) const { lua_pushlstring(L, b.data.data(), b.data.size()); }
  };
  std::visit(Visit{L, null_index}, value);
}

void push_rows(lua_State* L, const api::DbRows& rows) {
  lua_createtable(L, static_cast<int>(rows.rows.size()), 0);
  push_json(L, nullptr);
  const int null_index = lua_gettop(L);
  for (size_t r = 0; r < rows.rows.size(); ++r) {
    lua_createtable(L, 0, static_cast<int>(rows.columns.size()));
    for (size_t i = 0; i < rows.columns.size(); ++i) {
      push_value(L, rows.rows[r][i], null_index);
      lua_setfield(L, -2, rows.columns[i].c_str());
    }
    lua_rawseti(L, null_index - 1, static_cast<lua_Integer>(r + 1));
  }
  lua_pop(L, 1);
}

int db_open(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string name = luaL_checkstring(L, 1);
  api::DbOpenOptions options;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs args(L, 2, "db.open", {"busy_timeout"});
    if (auto seconds = args.number("busy_timeout")) {
      if (!(*seconds >= 0)) args.error("field 'busy_timeout' must be a number of seconds, 0 or more");
      options.busy_timeout = std::chrono::milliseconds(static_cast<int64_t>(std::min(*seconds, 86400.0) * 1000));
    }
  }
  // The userdata first, so that nothing can leak the connection once it is open.
  auto* c = new (lua_newuserdatauv(L, sizeof(Conn), 0)) Conn{};
  luaL_setmetatable(L, kConnMeta);
  auto opened = ctx.databases().open(name, options);
  if (!opened) return failed(L, opened);
  c->conn = opened.value();
  return 1;
}

int db_dump(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string name = luaL_checkstring(L, 1);
  TableArgs args(L, 2, "db.dump", {"path", "format", "gzip"});
  const api::DumpOptions options = api::read_dump_options(args);
  auto dumped = api::dump_database(ctx.job, ctx.host, api::DbRunScope{&ctx.effects, &ctx.redactor, ctx.deadline,
                                                                      [&ctx] { return ctx.cancelled(); }},
                                   name, options);
  if (!dumped) return failed(L, dumped);
  lua_createtable(L, 0, 6);
  const std::string path = dumped->path.string();
  lua_pushlstring(L, path.data(), path.size());
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, static_cast<lua_Integer>(dumped->bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, static_cast<lua_Integer>(dumped->duration_ms));
  lua_setfield(L, -2, "duration_ms");
  if (dumped->tables) {
    lua_pushinteger(L, static_cast<lua_Integer>(*dumped->tables));
    lua_setfield(L, -2, "tables");
  }
  lua_pushstring(L, dumped->engine.c_str());
  lua_setfield(L, -2, "engine");
  if (dumped->dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
  return 1;
}

int conn_query(lua_State* L) {
  api::DbConnection& conn = check_conn(L, "conn:query");
  size_t len = 0;
  const char* sql = luaL_checklstring(L, 2, &len);
  auto rows = conn.query("conn:query", {sql, len}, values_at(L, 3, "conn:query"));
  if (!rows) return failed(L, rows);
  push_rows(L, rows.value());
  return 1;
}

// With values: one statement. Without: every statement in the text, in order, stopping at
// the first error (those before it stay done; conn:transaction makes them all or nothing).
int conn_exec(lua_State* L) {
  api::DbConnection& conn = check_conn(L, "conn:exec");
  size_t len = 0;
  const char* sql = luaL_checklstring(L, 2, &len);
  auto changes = conn.exec("conn:exec", {sql, len}, values_at(L, 3, "conn:exec"));
  if (!changes) return failed(L, changes);
  lua_pushinteger(L, changes.value());
  return 1;
}

int conn_transaction(lua_State* L) {
  api::DbConnection& conn = check_conn(L, "conn:transaction");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  if (auto begun = conn.begin(); !begun) return failed(L, begun);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  const int status = lua_pcall(L, 1, LUA_MULTRET, 0);
  auto* c = static_cast<Conn*>(lua_touserdata(L, 1));
  if (status != LUA_OK) {
    if (c->conn) (void)c->conn->rollback();
    return lua_error(L);  // the script's error, as it was
  }
  if (!c->conn) raise(L, "conn:transaction: the conn was closed inside the transaction");
  if (auto committed = c->conn->commit(); !committed) return failed(L, committed);
  return lua_gettop(L) - 2;
}

int conn_backup(lua_State* L) {
  api::DbConnection& conn = check_conn(L, "conn:backup");
  auto located = api::AllowedPath::locate(run::LuaSandbox::context(L).job, luaL_checkstring(L, 2));
  if (!located) raise(L, located.message());
  auto copy = conn.backup(located.value());
  if (!copy) return failed(L, copy);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, static_cast<lua_Integer>(copy->bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, copy->pages);
  lua_setfield(L, -2, "pages");
  if (copy->dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
  return 1;
}

// close, __gc and __close: a second close is nothing.
void release(lua_State* L, Conn& c) {
  if (!c.conn) return;
  run::LuaSandbox::context(L).databases().close(c.conn);
  c.conn = nullptr;
}

int conn_close(lua_State* L) {
  check_conn(L, "conn:close");
  release(L, *static_cast<Conn*>(lua_touserdata(L, 1)));
  return 0;
}

int conn_release(lua_State* L) {
  release(L, *static_cast<Conn*>(luaL_checkudata(L, 1, kConnMeta)));
  return 0;
}

int conn_tostring(lua_State* L) {
  const auto* c = static_cast<Conn*>(luaL_checkudata(L, 1, kConnMeta));
  lua_pushfstring(L, "%s (%s)", kConnMeta, c->conn ? c->conn->name().c_str() : "closed");
  return 1;
}

const luaL_Reg kDbFunctions[] = {{"open", guarded<db_open>}, {"dump", guarded<db_dump>}, {nullptr, nullptr}};

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
