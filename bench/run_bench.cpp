// One trivial Lua run: a fresh sandboxed state, the script, and (in the second benchmark) a
// persisted record (claim + finish in the state file). `make bench` runs it.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

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

}  // namespace

BENCHMARK(BM_LuaRun_Sandboxed);
BENCHMARK(BM_LuaRun_Persisted);
BENCHMARK_MAIN();
