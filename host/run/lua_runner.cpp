#include "run/lua_runner.hpp"

#include "bindings/lua_values.hpp"
#include "run/lua_sandbox.hpp"
#include "run/script_cache.hpp"
#include "util/duration.hpp"

namespace cronhost::run {
namespace {

// Keep the traceback of a failed run readable: the message plus the Lua stack.
int traceback(lua_State* L) {
  const char* message = lua_tostring(L, 1);
  if (!message) message = luaL_tolstring(L, 1, nullptr);
  luaL_traceback(L, L, message, 1);
  return 1;
}

std::string size_text(size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

RunResult stopped_result(const RunContext& ctx) {
  if (ctx.stop == RunContext::Stop::kTimedOut)
    return {store::RunStatus::kTimedOut, "", "timed out after " + format_duration(ctx.job.timeout)};
  return {ctx.stop_cause == CancelReason::kShutdown ? store::RunStatus::kInterrupted : store::RunStatus::kCancelled, "",
          ctx.stop_cause == CancelReason::kReplaced   ? "cancelled: a newer run of the job replaced this one"
          : ctx.stop_cause == CancelReason::kShutdown ? "interrupted: the host is shutting down"
                                                      : "cancelled"};
}

RunResult run_lua(RunContext& ctx) {
  RunResult result;
  const auto fail = [&](store::RunStatus status, const std::string& error) {
    result.status = status;
    result.error = ctx.redact(error);
    return result;
  };
  std::string read_error;
  const auto script = read_script(ctx.job.lua_script, read_error);
  if (!script) return fail(store::RunStatus::kFailed, read_error);
  const std::string& source = *script;

  try {
    LuaSandbox sandbox(ctx);
    if (!sandbox.open_error().empty())
      return fail(store::RunStatus::kFailed, "cannot set up the script's environment: " + sandbox.open_error());
    lua_State* L = sandbox.state();
    lua_pushcfunction(L, traceback);
    const std::string& script_path = ctx.job.lua_script;
    const std::string chunk_name = "@" + script_path.substr(script_path.rfind('/') + 1);
    if (luaL_loadbufferx(L, source.data(), source.size(), chunk_name.c_str(), "t") != LUA_OK)
      return fail(store::RunStatus::kFailed, std::string("the script does not compile: ") + lua_tostring(L, -1));
    const int status = lua_pcall(L, 0, 1, -2);
    if (ctx.stop != RunContext::Stop::kNone) return stopped_result(ctx);
    if (status == LUA_ERRMEM || (status != LUA_OK && sandbox.memory_exceeded()))
      return fail(store::RunStatus::kFailed, "memory limit " + size_text(ctx.limits.memory_bytes) + " exceeded");
    if (status != LUA_OK) {
      const char* message = lua_tostring(L, -1);
      return fail(store::RunStatus::kFailed, message ? message : "the script failed with a non-string error");
    }
    if (!lua_isnil(L, -1)) {
      nlohmann::json value;
      std::string error;
      if (!bindings::to_json(L, -1, value, error))
        return fail(store::RunStatus::kFailed, "the script returned a value that is not JSON: " + error);
      result.result_json = ctx.redactor.apply_json(std::move(value));
    }
    return result;
  } catch (const std::bad_alloc&) {
    return fail(store::RunStatus::kFailed, "memory limit " + size_text(ctx.limits.memory_bytes) + " exceeded");
  }
}

}  // namespace cronhost::run
