#include "plugin/capability_bridge.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "bindings/job_table.hpp"

namespace cronhost::plugin {

extern const char kBridgeSource[];

namespace {

// Registry key of the table of functions bridge.lua returns.
int bridge_functions_key = 0;

constexpr size_t kMaxLogLineBytes = 64 << 10;

}  // namespace

CapabilityBridge::~CapabilityBridge() = default;

Reply CapabilityBridge::serve(const Call& call) {
  switch (call.op) {
    case Op::kLog: return log(call);
    case Op::kParams: return Reply::ok(ctx_.job.params.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    case Op::kSetResult: return set_result(call);
    case Op::kDone: return Reply::error(CRONHOST_EINVAL, "done is not a call");
    case Op::kJob:
    case Op::kLuaCall:
      // The Lua API's own door: a plugin speaking the protocol directly gets only the C ABI.
      if (kind_ != Kind::kLuaScript) return Reply::error(CRONHOST_EINVAL, std::string(op_name(call.op)) + " is for Lua scripts");
      if (call.op == Op::kJob)
        return Reply::ok(bindings::job_json(ctx_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return call_lua(call);
    default: return host_calls_.serve(call);
  }
}

Reply CapabilityBridge::log(const Call& call) {
  static const char* const kLevels[] = {"debug", "info", "warn", "error"};
  const int level = call.a.size() == 1 && call.a[0] >= '0' && call.a[0] <= '3' ? call.a[0] - '0' : 1;
  // A line goes to the host log too: a runaway plugin must not write megabytes into it.
  std::string message = ctx_.redact(call.b);  // before cutting, so no secret is cut in two
  if (message.size() > kMaxLogLineBytes) message = message.substr(0, kMaxLogLineBytes) + " ... (cut at 64 KiB)";
  ctx_.log_line(kLevels[level], message);
  return Reply::ok();
}

Reply CapabilityBridge::set_result(const Call& call) {
  auto value = nlohmann::json::parse(call.a, nullptr, false);
  if (value.is_discarded()) {
    refused_result_ = "set_result: the result is not JSON";
    return Reply::error(CRONHOST_EINVAL, refused_result_);
  }
  refused_result_.clear();
  result_ = ctx_.redactor.apply_json(std::move(value));
  return Reply::ok();
}

Reply CapabilityBridge::call_lua(const Call& call) {
  if (!sandbox_) {
    sandbox_ = std::make_unique<run::LuaSandbox>(ctx_);
    if (!sandbox_->open_error().empty()) {
      std::string message = sandbox_->open_error();
      sandbox_.reset();
      return Reply::error(CRONHOST_EHOST, "the host's plugin bridge failed to start: " + message);
    }
    lua_State* L = sandbox_->state();
    if (luaL_loadbufferx(L, kBridgeSource, std::strlen(kBridgeSource), "=bridge", "t") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
      std::string message = lua_tostring(L, -1) ? lua_tostring(L, -1) : "?";
      sandbox_.reset();
      return Reply::error(CRONHOST_EHOST, "the host's plugin bridge failed to start: " + message);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &bridge_functions_key);
  }
  lua_State* L = sandbox_->state();
  const int top = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &bridge_functions_key);
  lua_getfield(L, -1, "lua_call");
  lua_pushlstring(L, call.a.data(), call.a.size());
  lua_pushlstring(L, call.b.data(), call.b.size());
  const int status = lua_pcall(L, 2, 2, 0);
  Reply reply;
  if (status != LUA_OK) {
    const char* message = lua_tostring(L, -1);
    std::string text = ctx_.redact(message ? message : "the call failed with a non-string error");
    const bool stopped = ctx_.stop != run::RunContext::Stop::kNone;
    // Denials all end in the allow: key that would grant them, e.g. "(allow.http)".
    const int code = stopped ? CRONHOST_ESTOP
                     : status == LUA_ERRMEM ? CRONHOST_EHOST
                     : text.find("(allow.") != std::string::npos ? CRONHOST_EDENIED
                                                                   : CRONHOST_EINVAL;
    reply = Reply::error(code, std::move(text));
  } else if (lua_type(L, -2) == LUA_TSTRING) {
    size_t len = 0;
    const char* value = lua_tolstring(L, -2, &len);
    reply = Reply::ok(std::string(value, len));
  } else {
    const char* message = lua_tostring(L, -1);
    reply = Reply::error(CRONHOST_EFAILED, ctx_.redact(message ? message : std::string(op_name(call.op)) + " failed"));
  }
  lua_settop(L, top);
  return reply;
}

}  // namespace cronhost::plugin
