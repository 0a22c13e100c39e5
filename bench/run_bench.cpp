// One trivial Lua run: a fresh sandboxed state, the script, and (in the second benchmark) a
// persisted record (claim + finish in the state file); and, as the reference the sandboxed run
// is measured against, the same chunk in a bare Lua state. `make bench` runs it.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <lua.hpp>
#include <thread>

#include "run/lua_runner.hpp"
#include "store/state_store.hpp"

namespace {

using namespace cronhost;

struct Fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("cronhost-bench-" + std::to_string(::getpid()));
  config::JobSpec job{.name = "bench", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
  std::unique_ptr<store::Store> store;

  explicit Fixture(bool on_disk) {
    std::filesystem::create_directories(dir / "scripts");
    std::ofstream(dir / "scripts/t.lua") << "return {ok = true}\n";
    job.lua_script = dir / "scripts/t.lua";
    // A script changed in the last 2 s is read on every run (run/script_cache.hpp); a job's
    // script is older than that.
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    job.params = {{"image", "ghcr.io/acme/app"}};
    store = on_disk ? store::Store::open(dir / "state.db").value()
                    : store::Store::open_scratch_copy(dir / "none.db").value();
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  void run_once(int64_t run_id) {
    run::RunContext ctx(job, {}, store.get());
    ctx.run_id = run_id;
    auto result = run::run_lua(ctx);
    benchmark::DoNotOptimize(result);
  }
};

void BM_LuaRun_Sandboxed(benchmark::State& state) {
  Fixture f(false);
  for (auto _ : state) f.run_once(1);
  state.SetItemsProcessed(state.iterations());
}

void BM_LuaRun_Persisted(benchmark::State& state) {
  Fixture f(true);
  int64_t slot = 0;
  for (auto _ : state) {
    store::NewRun claim;
    claim.job = "bench";
    claim.scheduled_for = ++slot * 1000;
    claim.started_at = slot;
    const int64_t id = *f.store->claim(claim).value();
    f.run_once(id);
    f.store->finish(id, "bench", store::RunOutcome{store::RunStatus::kSucceeded, slot, 0, "{\"ok\":true}", "", "", false});
  }
  f.store->flush();
  state.SetItemsProcessed(state.iterations());
}

// The reference for a run's overhead: a bare Lua state with the standard libraries the
// sandbox opens (run/lua_base.cpp: base, table, string, math, utf8, coroutine, os), Lua's own
// allocator, no hook, no API modules, the chunk from memory: create, load, call, close.
// BM_LuaRun_Sandboxed over this is the ratio the host issue targets (at most 2x).
void BM_LuaRun_BareState(benchmark::State& state) {
  static constexpr char kChunk[] = "return {ok = true}\n";
  const luaL_Reg libraries[] = {{LUA_GNAME, luaopen_base},        {LUA_TABLIBNAME, luaopen_table},
                                {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
                                {LUA_UTF8LIBNAME, luaopen_utf8},  {LUA_COLIBNAME, luaopen_coroutine},
                                {LUA_OSLIBNAME, luaopen_os}};
  for (auto _ : state) {
    lua_State* L = luaL_newstate();
    for (const auto& lib : libraries) {
      luaL_requiref(L, lib.name, lib.func, 1);
      lua_pop(L, 1);
    }
    if (luaL_loadbufferx(L, kChunk, sizeof kChunk - 1, "=t.lua", "t") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
      state.SkipWithError(lua_tostring(L, -1));
      lua_close(L);
      break;
    }
    lua_getfield(L, -1, "ok");
    benchmark::DoNotOptimize(lua_toboolean(L, -1));
    lua_close(L);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_LuaRun_BareState);
BENCHMARK(BM_LuaRun_Sandboxed);
// CPU of the whole process: the claim and the finish are written on the store's writer thread
// and its checkpointer's, which the calling thread's own CPU time leaves out (two thirds).
BENCHMARK(BM_LuaRun_Persisted)->MeasureProcessCPUTime();
BENCHMARK_MAIN();
