// A fresh, sandboxed Lua 5.4 state per run: only the safe standard libraries, text chunks
// only, a memory cap through a counting allocator, and an instruction hook that stops the
// run at its deadline or when it is cancelled. Not thread-safe: one sandbox per run thread.
#pragma once
#include <lua.hpp>
#include <string>

#include "run/lua_base.hpp"
#include "run/run_context.hpp"

namespace cronhost::run {

class LuaSandbox {
 public:
  explicit LuaSandbox(RunContext& context);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  lua_State* state() const { return L_; }
  bool memory_exceeded() const { return allocator_.exceeded; }
  // Why the job's environment could not be set up (empty: it was); the run must not go on.
  const std::string& open_error() const { return open_error_; }

  // The RunContext of the state that called a binding.
  static RunContext& context(lua_State* L) { return **static_cast<RunContext**>(lua_getextraspace(L)); }
  // Raises the run's stop error if it is past its deadline or cancelled; for bindings that
  // wait (sleep) as well as for the instruction hook.
  static void check_stop(lua_State* L);

 private:
  static void hook(lua_State* L, lua_Debug* ar);

  RunContext& context_;
  LuaAllocator allocator_;
  lua_State* L_ = nullptr;
  std::string open_error_;
};

}  // namespace cronhost::run
