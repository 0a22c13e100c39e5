// Slot claims per second: HOSTS stores each claim every slot of a round (as hosts without a
// leader do, the unique index deciding), on a SQLite file and on a throwaway PostgreSQL 15
// (tests/support/dbserver.py). Prints slots/s and the duplicates found afterwards, which must
// be 0. SQLite allows one host per file, so it runs with one.
//
//   claim_bench [--hosts N] [--jobs J] [--rounds R]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/open_store.hpp"
#include "support/db_server.hpp"
#include "support/pg_database.hpp"

using namespace cronhost;

namespace {

struct Options {
  int hosts = 3, jobs = 500, rounds = 20;
};

std::vector<store::NewRun> round_of(const Options& o, int round) {
  std::vector<store::NewRun> runs;
  runs.reserve(o.jobs);
  const int64_t slot = 1'800'000'000'000 + int64_t{round} * 1000;
  for (int j = 0; j < o.jobs; ++j) {
    store::NewRun run{.job = "job" + std::to_string(j), .scheduled_for = slot, .status = store::RunStatus::kQueued,
                      .started_at = slot};
    run.record_slot = true;
    run.next_fire = slot + 1000;
    runs.push_back(std::move(run));
  }
  return runs;
}

// Each host claims every round; returns how many claims came back as this host's, in all.
double run(const Options& o, std::vector<std::unique_ptr<store::Store>>& hosts, long& won) {
  std::vector<long> wins(hosts.size());
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (size_t h = 0; h < hosts.size(); ++h)
    threads.emplace_back([&, h] {
      for (int r = 0; r < o.rounds; ++r) {
        auto ids = hosts[h]->claim_batch(round_of(o, r));
        if (!ids) {
          std::fprintf(stderr, "claim failed: %s\n", ids.message().c_str());
          std::exit(1);
        }
        for (const auto& id : ids.value()) wins[h] += id.claimed();
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  won = 0;
  for (long w : wins) won += w;
  return seconds;
}

void report(const char* backend, const Options& o, int hosts, double seconds, long won, long duplicates) {
  const long slots = long{o.jobs} * o.rounds;
  std::printf("%-10s hosts=%d slots=%ld claimed=%ld duplicates=%ld  %.2f s  %.0f slots/s\n", backend, hosts, slots, won,
              duplicates, seconds, slots / seconds);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--hosts") o.hosts = value;
    else if (flag == "--jobs") o.jobs = value;
    else if (flag == "--rounds") o.rounds = value;
  }
  {  // SQLite, one host
    const auto dir = std::filesystem::temp_directory_path() / ("claim-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::vector<std::unique_ptr<store::Store>> hosts;
    hosts.push_back(std::move(store::open_store({dir / "state.db", std::nullopt}, store::OpenMode::kDaemon)).value());
    long won = 0;
    const double seconds = run(o, hosts, won);
    report("sqlite", o, 1, seconds, won, long{o.jobs} * o.rounds - won);
    hosts.clear();
    std::filesystem::remove_all(dir);
  }
  test::DbServer server(test::DbKind::postgres);
  const auto settings = test::fresh_pg_database_on(server);
  std::vector<std::unique_ptr<store::Store>> hosts;
  for (int h = 0; h < o.hosts; ++h) {
    auto opened = store::open_store({"", settings}, store::OpenMode::kDaemon);
    if (!opened) {
      std::fprintf(stderr, "host %d: %s\n", h + 1, opened.message().c_str());
      if (h == 0) return 1;
      break;  // a build that allows one host per database: measure with those that opened
    }
    hosts.push_back(std::move(opened).value());
  }
  long won = 0;
  const double seconds = run(o, hosts, won);
  const long rows = std::stol(test::pg_query(settings, "SELECT count(*) FROM runs"));
  const long duplicates = std::stol(test::pg_query(
      settings, "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY job, scheduled_for, attempt HAVING count(*) > 1) d"));
  report("postgresql", o, static_cast<int>(hosts.size()), seconds, won, duplicates + (won - rows));
  return 0;
}
