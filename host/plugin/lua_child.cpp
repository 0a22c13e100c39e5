#include "plugin/lua_child.hpp"

#include <cstring>
#include <thread>

#include "bindings/lua_require.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_base.hpp"
#include "run/script_cache.hpp"

namespace cronhost::plugin {

extern const char kClientSource[];

namespace {

// The one run of this process, for the C functions below.
RemoteRun* g_remote = nullptr;
std::filesystem::path g_lib_dir;

// call(op, a, b, c) -> status, payload: one call to the host, for client.lua.
int host_call(lua_State* L) {
  const std::string_view name = luaL_checkstring(L, 1);
  std::optional<Op> op;
  for (uint8_t i = 1; i <= kLastOp; ++i)
    if (op_name(static_cast<Op>(i)) == name) op = static_cast<Op>(i);
  if (!op || *op == Op::kDone) return luaL_error(L, "no host call named %s", std::string(name).c_str());
  Call call{*op, {}, {}, {}};
  std::string* fields[] = {&call.a, &call.b, &call.c};
  for (int i = 0; i < 3; ++i) {
    size_t len = 0;
    const char* text = luaL_optlstring(L, i + 2, "", &len);
    fields[i]->assign(text, len);
  }
  const Reply reply = g_remote->call(std::move(call));
  lua_pushinteger(L, reply.status);
  lua_pushlstring(L, reply.payload.data(), reply.payload.size());
  return 2;
}

// sleep(seconds): here, not in the host; the host ends the process at the deadline anyway.
int sleep_seconds(lua_State* L) {
  const double seconds = luaL_checknumber(L, 1);
  if (!(seconds >= 0)) return luaL_argerror(L, 1, "seconds must be 0 or more");
  std::this_thread::sleep_for(std::chrono::duration<double>(std::min(seconds, 365.0 * 86400)));
  return 0;
}

int require_module(lua_State* L) { return bindings::require_from(L, g_lib_dir); }

int traceback(lua_State* L) {
  const char* message = lua_tostring(L, 1);
  if (!message) message = luaL_tolstring(L, 1, nullptr);
  luaL_traceback(L, L, message, 1);
  return 1;
}

// The job table from the host, read-only as in the host.
bool install_job(lua_State* L, RemoteRun& remote) {
  const Reply reply = remote.call(Call{Op::kJob, {}, {}, {}});
  const auto job = nlohmann::json::parse(reply.payload, nullptr, false);
  if (reply.status != CRONHOST_OK || !job.is_object()) return false;
  bindings::push_readonly_json(L, job);
  lua_setglobal(L, "job");
  return true;
}

int fail(RemoteRun& remote, const std::string& message) {
  remote.set_error(message);
  return CRONHOST_EFAILED;
}

}  // namespace

int run_lua_script(RemoteRun& remote, const std::filesystem::path& script, const std::filesystem::path& lib_dir,
                   size_t memory_bytes) {
  g_remote = &remote;
  g_lib_dir = lib_dir;
  std::string read_error;
  const auto script_text = run::read_script(script, read_error);
  if (!script_text) return fail(remote, read_error);
  const std::string& source = *script_text;

  run::LuaAllocator allocator;
  allocator.limit = memory_bytes;
  lua_State* L = lua_newstate(run::LuaAllocator::allocate, &allocator);
  if (!L) return fail(remote, "cannot create a Lua state");
  struct Closer {
    lua_State* L;
    ~Closer() { lua_close(L); }
  } closer{L};
  const std::string memory_error = "memory limit " + std::to_string(memory_bytes >> 20) + " MiB exceeded";
  try {
    run::open_safe_libraries(L);
    bindings::open_json(L);
    if (!install_job(L, remote)) return fail(remote, "the host did not send the job table");
    lua_pushcfunction(L, sleep_seconds);
    lua_setglobal(L, "sleep");
    bindings::open_require(L, require_module);
    if (luaL_loadbufferx(L, kClientSource, std::strlen(kClientSource), "=client", "t") != LUA_OK ||
        (lua_pushcfunction(L, host_call), lua_pcall(L, 1, 0, 0)) != LUA_OK)
      return fail(remote, std::string("the runner's Lua API failed to start: ") + lua_tostring(L, -1));

    lua_pushcfunction(L, traceback);
    const std::string chunk_name = "@" + script.filename().string();
    if (luaL_loadbufferx(L, source.data(), source.size(), chunk_name.c_str(), "t") != LUA_OK)
      return fail(remote, std::string("the script does not compile: ") + lua_tostring(L, -1));
    const int status = lua_pcall(L, 0, 1, -2);
    if (status == LUA_ERRMEM || (status != LUA_OK && allocator.exceeded)) return fail(remote, memory_error);
    if (status != LUA_OK) {
      const char* message = lua_tostring(L, -1);
      return fail(remote, message ? message : "the script failed with a non-string error");
    }
    if (!lua_isnil(L, -1)) {
      nlohmann::json value;
      std::string error;
      if (!bindings::to_json(L, -1, value, error)) return fail(remote, "the script returned a value that is not JSON: " + error);
      const std::string text = value.dump();
      if (remote.call(Call{Op::kSetResult, text, {}, {}}).status != CRONHOST_OK) return fail(remote, "the host refused the result");
    }
    return CRONHOST_OK;
  } catch (const std::bad_alloc&) {
    return fail(remote, memory_error);
  }
}

}  // namespace cronhost::plugin
