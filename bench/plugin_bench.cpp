// The cost of running a native plugin that does nothing, so the figures are the host's own:
// inline (a call through the vtable and the bridge setup) and process-isolated (spawning
// the runner, rlimits, the seccomp filter, dlopen, the done message and the reap), and one
// that makes two host calls (log, set_result), one that makes 101 state calls (a put, then
// 100 gets: the round trip of a capability call); and a trivial Lua script with isolation:
// process. `make bench` runs it.
#include <benchmark/benchmark.h>

#include <fstream>
#include <unistd.h>

#include "plugin/plugin_run.hpp"

namespace {

using namespace cronhost;

const std::filesystem::path kEmpty = std::filesystem::path(CRONHOST_TEST_PLUGINS) / "libempty.so";
const std::filesystem::path kVersioned = std::filesystem::path(CRONHOST_TEST_PLUGINS) / "libversioned_v1.so";
const std::filesystem::path kStateCalls = std::filesystem::path(CRONHOST_TEST_PLUGINS) / "libstate_calls.so";

config::JobSpec bench_job() {
  return {.name = "bench", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
}

void run_inline(benchmark::State& state, const std::filesystem::path& file) {
  const config::JobSpec job = bench_job();
  auto plugin = plugin::LoadedPlugin::open(file).value();
  for (auto _ : state) {
    run::RunContext ctx(job, {}, nullptr);
    auto result = plugin::run_inline(ctx, *plugin);
    if (result.status != store::RunStatus::kSucceeded) state.SkipWithError(result.error.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

void run_isolated(benchmark::State& state, const std::filesystem::path& file) {
  const config::JobSpec job = bench_job();
  for (auto _ : state) {
    run::RunContext ctx(job, {}, nullptr);
    auto result = plugin::run_isolated(ctx, file, {CRONHOST_PLUGIN_RUNNER, uint64_t{512} << 20});
    if (result.status != store::RunStatus::kSucceeded) state.SkipWithError(result.error.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

// A trivial Lua script (return {ok = true}) in a runner process: the same spawn, plus a Lua
// state in the child and the job table from the host.
void BM_Lua_Isolated_Trivial(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("cronhost-plugin-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "t.lua") << "return {ok = true}\n";
  config::JobSpec job = bench_job();
  job.lua_script = dir / "t.lua";
  for (auto _ : state) {
    run::RunContext ctx(job, {}, nullptr);
    auto result = plugin::run_lua_isolated(ctx, {CRONHOST_PLUGIN_RUNNER, uint64_t{512} << 20});
    if (result.status != store::RunStatus::kSucceeded) state.SkipWithError(result.error.c_str());
  }
  state.SetItemsProcessed(state.iterations());
  std::filesystem::remove_all(dir);
}

void BM_Plugin_Inline_Empty(benchmark::State& state) { run_inline(state, kEmpty); }
void BM_Plugin_Inline_OneCall(benchmark::State& state) { run_inline(state, kVersioned); }
void BM_Plugin_Isolated_Empty(benchmark::State& state) { run_isolated(state, kEmpty); }
void BM_Plugin_Isolated_OneCall(benchmark::State& state) { run_isolated(state, kVersioned); }
void BM_Plugin_Inline_101StateCalls(benchmark::State& state) { run_inline(state, kStateCalls); }
void BM_Plugin_Isolated_101StateCalls(benchmark::State& state) { run_isolated(state, kStateCalls); }

}  // namespace

BENCHMARK(BM_Plugin_Inline_Empty)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Plugin_Inline_OneCall)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Plugin_Isolated_Empty)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Plugin_Isolated_OneCall)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Plugin_Inline_101StateCalls)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Plugin_Isolated_101StateCalls)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Lua_Isolated_Trivial)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_MAIN();
