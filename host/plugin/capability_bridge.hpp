// Serves a plugin run's host calls inside the host, for inline and isolated runs alike: log,
// params and the result directly; the C ABI's capabilities through HostCalls, the C++ adapter
// over host/api/ that the Lua API adapts too, so allow: lists, secrets redaction and dry-run
// capture are the ones scripts get. Only an isolated Lua script's lua_call (client.lua's
// proxies of the Lua API) runs bridge.lua, in a sandboxed state of the run's own.
// Belongs to the thread serving the run.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "plugin/call.hpp"
#include "plugin/host_calls.hpp"
#include "run/lua_sandbox.hpp"
#include "run/run_context.hpp"

namespace cronhost::plugin {

class CapabilityBridge {
 public:
  // Who is calling: a plugin gets the C ABI's calls; an isolated Lua script also kJob and
  // kLuaCall, the door of client.lua.
  enum class Kind { kPlugin, kLuaScript };
  CapabilityBridge(run::RunContext& ctx, Kind kind) : ctx_(ctx), kind_(kind), host_calls_(ctx) {}
  ~CapabilityBridge();
  CapabilityBridge(const CapabilityBridge&) = delete;
  CapabilityBridge& operator=(const CapabilityBridge&) = delete;

  Reply serve(const Call& call);

  // What set_result stored (JSON text, redacted); unset if the plugin set none.
  const std::optional<std::string>& result() const { return result_; }
  // Why the plugin's last set_result was refused; empty if it was not.
  const std::string& refused_result() const { return refused_result_; }

 private:
  Reply log(const Call& call);
  Reply set_result(const Call& call);
  Reply call_lua(const Call& call);

  run::RunContext& ctx_;
  const Kind kind_;
  HostCalls host_calls_;
  std::unique_ptr<run::LuaSandbox> sandbox_;  // made at the first call that needs it
  std::optional<std::string> result_;
  std::string refused_result_;
};

}  // namespace cronhost::plugin
