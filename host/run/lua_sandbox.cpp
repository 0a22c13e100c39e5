#include "run/lua_sandbox.hpp"

#include <cstdlib>
#include <new>

#include "bindings/open_all.hpp"
#include "util/duration.hpp"

namespace cronhost::run {
namespace {

// The hook runs every kHookInstructions VM instructions: often enough to stop a tight loop
// within microseconds, rare enough to cost under 1% of a busy script.
constexpr int kHookInstructions = 1000;

// load() that refuses binary chunks whatever mode the script asks for.
int text_only_load(lua_State* L) {
  lua_settop(L, 4);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 4, LUA_MULTRET);
  return lua_gettop(L);
}

void remove_global(lua_State* L, const char* name) {
  lua_pushnil(L);
  lua_setglobal(L, name);
}

}  // namespace

void* LuaSandbox::allocate(void* ud, void* ptr, size_t old_size, size_t new_size) {
  auto* a = static_cast<Allocator*>(ud);
  const size_t old = ptr ? old_size : 0;
  if (new_size == 0) {
    std::free(ptr);
    a->used -= old;
    return nullptr;
  }
  if (new_size > old && a->used + (new_size - old) > a->limit) {
    a->exceeded = true;
    return nullptr;  // Lua raises "not enough memory"
  }
  void* p = std::realloc(ptr, new_size);
  if (p) a->used = a->used - old + new_size;
  return p;
}

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
  L_ = lua_newstate(allocate, &allocator_);
  if (!L_) throw std::bad_alloc();
  *static_cast<RunContext**>(lua_getextraspace(L_)) = &context_;
  open_safe_libraries();
  bindings::open_all(L_);
  lua_sethook(L_, hook, LUA_MASKCOUNT, kHookInstructions);
}

LuaSandbox::~LuaSandbox() {
  if (L_) lua_close(L_);
}

void LuaSandbox::open_safe_libraries() {
  const luaL_Reg libraries[] = {{LUA_GNAME, luaopen_base},          {LUA_TABLIBNAME, luaopen_table},
                                {LUA_STRLIBNAME, luaopen_string},   {LUA_MATHLIBNAME, luaopen_math},
                                {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_COLIBNAME, luaopen_coroutine}};
  for (const auto& lib : libraries) {
    luaL_requiref(L_, lib.name, lib.func, 1);
    lua_pop(L_, 1);
  }
  // os: only the clock and calendar functions.
  luaL_requiref(L_, LUA_OSLIBNAME, luaopen_os, 0);
  lua_newtable(L_);
  for (const char* name : {"time", "date", "clock", "difftime"}) {
    lua_getfield(L_, -2, name);
    lua_setfield(L_, -2, name);
  }
  lua_setglobal(L_, "os");
  lua_pop(L_, 1);

  for (const char* name : {"dofile", "loadfile"}) remove_global(L_, name);
  lua_getglobal(L_, "load");
  lua_pushcclosure(L_, text_only_load, 1);
  lua_setglobal(L_, "load");
  lua_getglobal(L_, "string");
  lua_pushnil(L_);
  lua_setfield(L_, -2, "dump");
  lua_pop(L_, 1);
}

}  // namespace cronhost::run
