// Next-fire computations per second: the scheduler's hot path. `make bench` runs it.
// Each iteration computes one next fire, chained from the previous one as the scheduler does.
// With --peer-cases FILE it computes instead the fixed chains of bench/peers/cases.json, which
// bench/peers_bench.py also gives croner, cron-parser, node-cron and APScheduler.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

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

namespace {

// For every zone and case of `file`: the expression parsed once, then `repeats` chains of
// `chain` fires from `start_unix` (after one chain of warm-up), each fire computed from the
// one before. One JSON line per case on stdout with the rate and the chain's fires, as the
// peers' scripts in bench/peers print them. Returns the process exit code.
int run_peer_cases(const char* file, int repeats) {
  nlohmann::json spec;
  try {
    std::ifstream in(file);
    spec = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    std::cerr << "cron_bench: " << file << ": " << e.what() << "\n";
    return 2;
  }
  const int64_t start = spec.at("start_unix").get<int64_t>();
  const size_t chain = spec.at("chain").get<size_t>();
  std::vector<int64_t> fires(chain);
  for (const auto& zone_name : spec.at("zones")) {
    auto zone = Zone::load(zone_name.get<std::string>());
    if (!zone) {
      std::cerr << "cron_bench: " << zone.message() << "\n";
      return 2;
    }
    for (const auto& c : spec.at("cases")) {
      nlohmann::json line{{"impl", "cronhost"}, {"label", c.at("label")}, {"expr", c.at("expr")}, {"zone", zone_name}};
      CronParseError error;
      auto parsed = parse_cron(c.at("expr").get<std::string>(), "bench", &error);
      if (!parsed) {
        line["error"] = error.message;
        std::cout << line.dump() << "\n";
        continue;
      }
      auto run_chain = [&] {
        int64_t at = start;
        for (size_t i = 0; i < chain; ++i) {
          auto next = next_fire(*parsed, **zone, at);
          if (!next) return false;
          fires[i] = at = *next;
        }
        return true;
      };
      if (!run_chain()) {  // warm-up, not timed
        line["error"] = "no next fire";
        std::cout << line.dump() << "\n";
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < repeats; ++r) run_chain();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double total = static_cast<double>(repeats) * static_cast<double>(chain);
      line["fires"] = total;
      line["seconds"] = seconds;
      line["fires_per_s"] = total / seconds;
      line["chain"] = fires;
      std::cout << line.dump() << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* cases = nullptr;
  int repeats = 10;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--peer-cases") == 0) cases = argv[i + 1];
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::atoi(argv[i + 1]);
  }
  if (cases) return run_peer_cases(cases, repeats);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
