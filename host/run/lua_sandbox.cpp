#include "run/lua_sandbox.hpp"

#include <cstdlib>
#include <new>

#include "bindings/open_all.hpp"
#include "util/duration.hpp"
#include "util/malloc_release.hpp"

namespace cronhost::run {
namespace {

// The hook runs every kHookInstructions VM instructions: often enough to stop a tight loop
// within microseconds, rare enough to cost under 1% of a busy script.
constexpr int kHookInstructions = 1000;

// check_stop for the C loops of lua_pattern and lua_guards, which the hook cannot reach.
int check_stop_function(lua_State* L) {
  LuaSandbox::check_stop(L);
  return 0;
}

}  // namespace

void LuaSandbox::hook(lua_State* L, lua_Debug*) { check_stop(L); }

void LuaSandbox::check_stop(lua_State* L) {
  RunContext& ctx = context(L);
  if (ctx.stop == RunContext::Stop::kNone) {
    if (!ctx.note_stop()) return;
    // From now on fail at every instruction, so a script that catches the error with
    // pcall cannot keep going.
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
  }
  if (ctx.stop == RunContext::Stop::kTimedOut)
    luaL_error(L, "timed out after %s", format_duration(ctx.job.timeout).c_str());
  else if (ctx.stop_cause == CancelReason::kReplaced)
    luaL_error(L, "cancelled: a newer run of the job replaced this one");
  else if (ctx.stop_cause == CancelReason::kShutdown)
    luaL_error(L, "interrupted: the host is shutting down");
  else
    luaL_error(L, "cancelled");
}

LuaSandbox::LuaSandbox(RunContext& context) : context_(context) {
  allocator_.limit = context.limits.memory_bytes;
  allocator_.arena = LuaArena::lease();
  L_ = lua_newstate(LuaAllocator::allocate, &allocator_);
  if (!L_) {
    LuaArena::release(allocator_.arena);
    throw std::bad_alloc();
  }
  *static_cast<RunContext**>(lua_getextraspace(L_)) = &context_;
  // Protected: an allocation that fails while opening must fail this run, not abort the host
  // from Lua's panic handler. (The job table, with its params and event, is built on first
  // use, inside the script's own protected call.)
  lua_pushcfunction(L_, [](lua_State* L) {
    open_safe_base(L, check_stop_function);
    bindings::open_all(L, check_stop_function);
    return 0;
  });
  if (lua_pcall(L_, 0, 0, 0) != LUA_OK) {
    const char* message = lua_tostring(L_, -1);
    open_error_ = message ? message : "out of memory";
    lua_pop(L_, 1);
  }
  lua_sethook(L_, hook, LUA_MASKCOUNT, kHookInstructions);
}

LuaSandbox::~LuaSandbox() {
  if (L_) lua_close(L_);
  LuaArena::release(allocator_.arena);  // after the close: every block in it is free again
  run_memory_freed(allocator_.peak);
}

}  // namespace cronhost::run
