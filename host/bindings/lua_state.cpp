// state: the job's own key-value store in the state file, kept across runs.
//
//   local last = state.get("last_version")          -- nil when never set
//   assert(state.put("last_version", "1.4.2"))     -- any JSON-compatible value
//   state.delete("last_version")
//
// A value that is not JSON-compatible raises; a failure of the state file returns nil, err.
// Writes are the run's until it ends: they are committed with its outcome, in the same
// transaction, so a run the host lost (kill -9) leaves none behind and its slot runs again
// from the same state. Reads see the run's own writes.
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

std::string check_key(lua_State* L) {
  size_t len = 0;
  const char* key = luaL_checklstring(L, 1, &len);
  if (auto ok = api::RunKv::check_key(std::string_view(key, len)); !ok) luaL_argerror(L, 1, ok.message().c_str());
  return std::string(key, len);
}

int state_get(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string key = check_key(L);
  auto value = ctx.kv.get(key);
  if (!value) return fail(L, "state.get: " + value.message());
  if (!value.value()) {
    lua_pushnil(L);
    return 1;
  }
  std::string error;  // decoded into Lua values, under the run's memory cap
  if (!push_decoded_json(L, **value, error)) return fail(L, "state.get: the stored value is not JSON: " + error);
  return 1;
}

int state_put(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string key = check_key(L);
  luaL_checkany(L, 2);
  nlohmann::json value;
  std::string error;
  if (!to_json(L, 2, value, error)) return luaL_argerror(L, 2, error.c_str());
  const std::string text = value.dump();
  if (auto ok = api::RunKv::check_value(text); !ok) return luaL_argerror(L, 2, ok.message().c_str());
  if (auto status = ctx.kv.put(key, text); !status) return fail(L, "state.put: " + status.message());
  lua_pushboolean(L, 1);
  return 1;
}

int state_delete(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string key = check_key(L);
  if (auto status = ctx.kv.erase(key); !status) return fail(L, "state.delete: " + status.message());
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg kStateFunctions[] = {
    {"get", guarded<state_get>}, {"put", guarded<state_put>}, {"delete", guarded<state_delete>}, {nullptr, nullptr}};

}  // namespace

void open_state(lua_State* L) {
  luaL_newlib(L, kStateFunctions);
  lua_setglobal(L, "state");
}

}  // namespace cronhost::bindings
