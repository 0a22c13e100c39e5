// Installs every host API module into a run's sandbox: the index of what scripts can call.
#pragma once
#include <lua.hpp>

namespace cronhost::bindings {

// Each open_* installs one global module table (or function) into L.
void open_job(lua_State* L);    // job (read-only)
void open_sleep_and_require(lua_State* L);  // sleep, require
void open_log(lua_State* L);    // log.debug/info/warn/error
void open_print(lua_State* L);  // print, into the run's output
void open_json(lua_State* L);   // json.encode/decode, json.null
void open_state(lua_State* L);  // state.get/put/delete
void open_approvals(lua_State* L);  // approvals.request/list/get/mark_executed/mark_failed
void open_semver(lua_State* L);  // semver.parse/compare/satisfies/latest
void open_http(lua_State* L);   // http.request/get/post/put/delete
void open_registry(lua_State* L);  // registry.tags/latest
void open_mail(lua_State* L);      // mail.send
void open_host(lua_State* L);      // host.runs
void open_db(lua_State* L);     // db.open; conn:query/exec/transaction/backup/close
void open_files(lua_State* L);  // files.list/stat/read/write/remove/gzip/prune
void open_storage(lua_State* L);  // storage.put/get/list/delete/prune

// print, sleep and require at once; the module tables, and the standard libraries but base
// and string (run/lua_base.hpp), when a script first names one (an __index on the globals).
// pairs(_G), getmetatable(_G) and setmetatable(_G, ...) open all first and take that
// metatable off, so no script ever holds it. `check`: the run's stop check, for the table
// library's guards.
void open_all(lua_State* L, lua_CFunction check);

}  // namespace cronhost::bindings
