// Property test: for random expressions, zones and start times, the chain of next() fires
// equals a brute-force scan of every second, judged by an independent oracle that asks cctz
// (not cronhost's zone table) what the wall clock says and whether it was skipped or repeated.
#include <catch2/catch.hpp>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <random>

#include "../support/fires.hpp"

namespace {

using namespace cronhost::schedule;

const char* const kSeconds[] = {"0", "*/15", "10,40", "30", "*"};
const char* const kMinutes[] = {"*", "0", "*/7", "5-20/5", "30", "H", "H/10", "0,30", "45"};
const char* const kHours[] = {"*", "2", "1-3", "*/2", "0-23/5", "H", "1", "3", "0-3"};
const char* const kDays[] = {"*", "?", "1", "L", "15W", "*/2", "1-7", "LW", "L-2", "31", "H"};
const char* const kMonths[] = {"*", "*", "3,4,10,11", "*/2", "JAN-JUN", "9-11"};
const char* const kWeekdays[] = {"*", "*", "?", "MON-FRI", "0", "5L", "1#2", "SUN,SAT", "FRI-MON"};
const char* const kZones[] = {"UTC", "America/New_York", "Europe/London", "Australia/Adelaide",
                              "Pacific/Chatham", "Asia/Kolkata", "Australia/Lord_Howe"};
// Days that hold a transition in one of the zones, so windows often cross one.
const char* const kStarts[] = {"2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z", "2026-03-28T12:00:00Z",
                               "2026-10-24T12:00:00Z", "2026-04-04T06:00:00Z", "2026-10-03T06:00:00Z",
                               "2026-09-26T06:00:00Z", "2027-01-30T00:00:00Z", "2028-02-27T00:00:00Z",
                               "2099-12-30T00:00:00Z"};

template <size_t N>
const char* pick(std::mt19937& rng, const char* const (&choices)[N]) {
  return choices[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

// The oracle: is `t` a fire of `expr`, by the rules in README, asking cctz directly?
bool oracle_fires(const CronExpr& expr, const cctz::time_zone& tz, int64_t t) {
  const auto tp = std::chrono::time_point_cast<cctz::seconds>(std::chrono::system_clock::from_time_t(0)) + cctz::seconds(t);
  const cctz::civil_second cs = cctz::convert(tp, tz);
  const Civil c{cs.year(), cs.month(), cs.day(), cs.hour(), cs.minute(), cs.second()};
  if (expr.matches(c)) {
    if (!expr.fixed_time) return true;
    if (tz.lookup(cs).pre == tp) return true;  // the first occurrence of this wall time
  }
  if (!expr.fixed_time) return false;
  // A spring-forward ends at `t`: did a matching wall time fall in the gap?
  const cctz::civil_second before = cctz::convert(tp - cctz::seconds(1), tz);
  if (cs - before <= 1) return false;
  for (cctz::civil_second g = before + 1; g < cs; ++g)
    if (expr.matches(Civil{g.year(), g.month(), g.day(), g.hour(), g.minute(), g.second()})) return true;
  return false;
}

}  // namespace

TEST_CASE("property: next() never skips a fire and never invents one", "[cron][property]") {
  std::mt19937 rng(20261125);
  constexpr int kExpressions = 40;
  constexpr int64_t kWindow = 2 * 86400 + 3600;  // a little over two days, at second resolution
  size_t total_fires = 0;
  for (int i = 0; i < kExpressions; ++i) {
    const bool with_seconds = i % 3 == 0;
    std::string text = std::string(with_seconds ? pick(rng, kSeconds) + std::string(" ") : "") + pick(rng, kMinutes) +
                       " " + pick(rng, kHours) + " " + pick(rng, kDays) + " " + pick(rng, kMonths) + " " +
                       pick(rng, kWeekdays);
    const std::string zone_name = pick(rng, kZones);
    const std::string start_text = pick(rng, kStarts);
    INFO(text << " in " << zone_name << " from " << start_text);
    const CronExpr expr = parse_cron(text, "property").value();
    const auto zone = Zone::load(zone_name).value();
    cctz::time_zone tz;
    REQUIRE(cctz::load_time_zone(zone_name, &tz));

    const int64_t start = cronhost::test::unix_at(start_text);
    std::vector<int64_t> chain;
    for (int64_t t = start;;) {
      auto next = next_fire(expr, *zone, t);
      if (!next || *next > start + kWindow) break;
      REQUIRE(*next > t);
      chain.push_back(*next);
      t = *next;
    }
    std::vector<int64_t> scanned;
    for (int64_t t = start + 1; t <= start + kWindow; ++t)
      if (oracle_fires(expr, tz, t)) scanned.push_back(t);
    CHECK(chain == scanned);
    total_fires += scanned.size();
  }
  CHECK(total_fires > 1000);  // the sample exercises real fires, not only empty windows
}
