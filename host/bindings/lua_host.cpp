// host: read-only views of the host's own history, for reports about jobs.
//
//   local runs = host.runs{since = 7 * 86400}            -- seconds back from now, or "2026-11-18T00:00:00Z"
//   local failed = host.runs{job = "nightly-backup", status = "failed", limit = 50}
//   -- newest first; each {id, job, trigger, status, attempt, scheduled_for, started_at,
//   --   finished_at (RFC 3339 UTC or nil), duration_ms, error, notes}
//
// Bad arguments raise. limit defaults to 1000 and is capped at 10000.
#include "api/run_history.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

int host_runs(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  TableArgs args(L, 1, "host.runs", {"since", "job", "status", "limit"});
  api::RunHistoryArgs given;
  const int since_type = args.push("since");
  if (since_type == LUA_TNUMBER) given.since = lua_tonumber(L, -1);
  else if (since_type == LUA_TSTRING) given.since = std::string(lua_tostring(L, -1));
  else if (since_type != LUA_TNIL) args.error("field 'since' must be seconds or an RFC 3339 time with an offset");
  lua_pop(L, 1);
  given.job = args.string("job").value_or("");
  given.status = args.string("status");
  given.limit = args.number("limit");
  api::RunHistory& history = run::LuaSandbox::context(L).run_history();
  auto query = history.check(given);
  if (!query) args.error(query.message());
  auto runs = history.runs(*query);
  if (!runs) raise(L, "host.runs: " + runs.message());
  push_json(L, *runs);
  return 1;
}

const luaL_Reg kHostFunctions[] = {{"runs", guarded<host_runs>}, {nullptr, nullptr}};

}  // namespace

void open_host(lua_State* L) {
  luaL_newlib(L, kHostFunctions);
  lua_setglobal(L, "host");
}

}  // namespace cronhost::bindings
