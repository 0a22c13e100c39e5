// Next-fire computations per second: the scheduler's hot path. `make bench` runs it.
// Each iteration computes one next fire, chained from the previous one as the scheduler does.
#include <benchmark/benchmark.h>

#include "schedule/cron_next.hpp"
#include "schedule/cron_parser.hpp"

namespace {

using namespace cronhost::schedule;

// A mix of plain 5-field expressions, as operators write them.
const char* const kPlain[] = {"0 6 * * *",     "*/15 * * * *",  "0 0 1 * *",   "30 2 * * MON-FRI",
                              "0 */2 * * *",   "5 4 * * SUN",   "0 9-17 * * *", "0 0 1 1 *",
                              "15,45 * * * *", "0 12 * * 1,3,5"};
// The same mix plus day rules (L, W, #) that cost more per month.
const char* const kRich[] = {"0 0 L * *", "0 9 15W * *", "0 0 * * 5#3", "0 22 * * 5L", "0 0 LW * *"};

void run(benchmark::State& state, const char* const* exprs, size_t n, const char* zone_name) {
  std::vector<CronExpr> parsed;
  for (size_t i = 0; i < n; ++i) parsed.push_back(parse_cron(exprs[i], "bench").value());
  auto zone = Zone::load(zone_name).value();
  std::vector<int64_t> at(parsed.size(), 1795000000);  // 2026-11-18
  size_t i = 0;
  for (auto _ : state) {
    auto next = next_fire(parsed[i], *zone, at[i]);
    benchmark::DoNotOptimize(next);
    // Wrap around before the year 2400 so every zone stays inside its exact table.
    at[i] = next && *next < 13500000000 ? *next : 1795000000;
    if (++i == parsed.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_NextFire_Plain_UTC(benchmark::State& s) { run(s, kPlain, std::size(kPlain), "UTC"); }
void BM_NextFire_Plain_NewYork(benchmark::State& s) { run(s, kPlain, std::size(kPlain), "America/New_York"); }
void BM_NextFire_Plain_Adelaide(benchmark::State& s) { run(s, kPlain, std::size(kPlain), "Australia/Adelaide"); }
void BM_NextFire_Plain_Chatham(benchmark::State& s) { run(s, kPlain, std::size(kPlain), "Pacific/Chatham"); }
void BM_NextFire_DayRules_UTC(benchmark::State& s) { run(s, kRich, std::size(kRich), "UTC"); }
void BM_NextFire_DayRules_London(benchmark::State& s) { run(s, kRich, std::size(kRich), "Europe/London"); }

void BM_ParseCron(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    auto parsed = parse_cron(kPlain[i], "bench");
    benchmark::DoNotOptimize(parsed);
    if (++i == std::size(kPlain)) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_NextFire_Plain_UTC);
BENCHMARK(BM_NextFire_Plain_NewYork);
BENCHMARK(BM_NextFire_Plain_Adelaide);
BENCHMARK(BM_NextFire_Plain_Chatham);
BENCHMARK(BM_NextFire_DayRules_UTC);
BENCHMARK(BM_NextFire_DayRules_London);
BENCHMARK(BM_ParseCron);
BENCHMARK_MAIN();
