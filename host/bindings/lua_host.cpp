// host: read-only views of the host's own history, for reports about jobs.
//
//   local runs = host.runs{since = 7 * 86400}            -- seconds back from now, or "2026-11-18T00:00:00Z"
//   local failed = host.runs{job = "nightly-backup", status = "failed", limit = 50}
//   -- newest first; each {id, job, trigger, status, attempt, scheduled_for, started_at,
//   --   finished_at (RFC 3339 UTC or nil), duration_ms, error, notes}
//
// Bad arguments raise. limit defaults to 1000 and is capped at 10000.
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"
#include "store/state_store.hpp"
#include "util/time_format.hpp"

namespace cronhost::bindings {
namespace {

nlohmann::json time_or_null(std::optional<int64_t> ms) {
  if (!ms) return nullptr;
  return format_rfc3339(Instant(std::chrono::seconds(*ms / 1000)), 0);
}

int host_runs(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  TableArgs args(L, 1, "host.runs", {"since", "job", "status", "limit"});
  store::RunQuery query;
  query.limit = 1000;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const int since_type = args.push("since");
  if (since_type == LUA_TNUMBER) {
    query.since = now_ms - static_cast<int64_t>(lua_tonumber(L, -1) * 1000);
  } else if (since_type == LUA_TSTRING) {
    auto t = parse_rfc3339(lua_tostring(L, -1));
    if (!t || !t->offset_seconds) args.error("field 'since' must be seconds or an RFC 3339 time with an offset");
    query.since = t->instant().time_since_epoch().count() * 1000;
  } else if (since_type != LUA_TNIL) {
    args.error("field 'since' must be seconds or an RFC 3339 time with an offset");
  }
  lua_pop(L, 1);
  query.job = args.string("job").value_or("");
  if (auto status = args.string("status")) {
    query.status = store::parse_status(*status);
    if (!query.status)
      args.error("unknown status '" + *status + "' (succeeded, failed, timed_out, skipped, cancelled, interrupted, queued, running)");
  }
  if (auto limit = args.number("limit")) {
    if (!(*limit >= 1)) args.error("field 'limit' must be 1 or more");
    query.limit = static_cast<int>(std::min(*limit, 10000.0));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : ctx.store->runs(query))
    out.push_back({{"id", r.id},
                   {"job", r.job},
                   {"trigger", std::string(store::to_string(r.trigger))},
                   {"status", std::string(store::to_string(r.status))},
                   {"attempt", r.attempt},
                   {"scheduled_for", time_or_null(r.scheduled_for)},
                   {"started_at", time_or_null(r.started_at)},
                   {"finished_at", time_or_null(r.finished_at)},
                   {"duration_ms", r.duration_ms ? nlohmann::json(*r.duration_ms) : nlohmann::json()},
                   {"error", r.error},
                   {"notes", r.notes}});
  push_json(L, out);
  return 1;
}

const luaL_Reg kHostFunctions[] = {{"runs", guarded<host_runs>}, {nullptr, nullptr}};

}  // namespace

void open_host(lua_State* L) {
  luaL_newlib(L, kHostFunctions);
  lua_setglobal(L, "host");
}

}  // namespace cronhost::bindings
