// Schedule kinds other than cron, lists of expressions, and jitter.
#include <catch2/catch.hpp>

#include <set>

#include "schedule/schedule.hpp"
#include "../support/fires.hpp"

using namespace cronhost;
using namespace cronhost::schedule;

namespace {
Instant at(const std::string& rfc3339) { return Instant(std::chrono::seconds(test::unix_at(rfc3339))); }
std::string show(const std::optional<Instant>& t, const Zone& zone) {
  return t ? test::in_zone(t->time_since_epoch().count(), zone) : "none";
}
}  // namespace

TEST_CASE("a list of cron expressions fires at the earliest of them", "[schedule]") {
  auto zone = Zone::load("Australia/Adelaide").value();
  CronTimes times{{"0 6 * * *", "0 12 * * *"},
                  {parse_cron("0 6 * * *", "v").value(), parse_cron("0 12 * * *", "v").value()}};
  Schedule s(times, zone);
  CHECK(show(s.next(at("2026-11-25T07:00:00+10:30")), *zone) == "2026-11-25T12:00:00+10:30");
  CHECK(show(s.next(at("2026-11-25T12:00:00+10:30")), *zone) == "2026-11-26T06:00:00+10:30");
  CHECK(s.describe() == "0 6 * * *; 0 12 * * *");
}

TEST_CASE("every is anchored, so a restart does not shift it", "[schedule]") {
  auto utc = Zone::utc();
  Schedule s(Interval{std::chrono::minutes(15), Instant{}}, utc);
  CHECK(show(s.next(at("2026-11-25T10:07:13Z")), *utc) == "2026-11-25T10:15:00+00:00");
  CHECK(show(s.next(at("2026-11-25T10:15:00Z")), *utc) == "2026-11-25T10:30:00+00:00");
  Schedule shifted(Interval{std::chrono::hours(1), at("2026-01-01T00:05:00Z")}, utc);
  CHECK(show(shifted.next(at("2026-11-25T10:07:00Z")), *utc) == "2026-11-25T11:05:00+00:00");
  CHECK(show(shifted.next(at("1969-12-31T23:00:00Z")), *utc) == "1969-12-31T23:05:00+00:00");  // before the anchor too
  CHECK(s.describe() == "every 15m");
}

TEST_CASE("at fires once", "[schedule]") {
  auto zone = Zone::load("Australia/Adelaide").value();
  Schedule s(OneShot{at("2026-12-01T09:00:00+10:30")}, zone);
  CHECK(show(s.next(at("2026-11-25T00:00:00Z")), *zone) == "2026-12-01T09:00:00+10:30");
  CHECK(show(s.next(at("2026-12-01T09:00:00+10:30")), *zone) == "none");
  CHECK(s.describe() == "at 2026-12-01T09:00:00+10:30");
}

TEST_CASE("after has no times of its own", "[schedule]") {
  Schedule s(After{"nightly-backup", "succeeded"}, Zone::utc());
  CHECK(!s.next(at("2026-11-25T00:00:00Z")));
  CHECK(!s.fires_by_time());
  CHECK(s.describe() == "after nightly-backup succeeded");
}

TEST_CASE("jitter is a fixed delay per slot within the bound", "[schedule]") {
  Schedule s(Interval{std::chrono::minutes(1), Instant{}}, Zone::utc(), std::chrono::seconds(30));
  std::set<int64_t> delays;
  for (int i = 0; i < 200; ++i) {
    const Instant slot = at("2026-11-25T00:00:00Z") + std::chrono::minutes(i);
    const auto delay = s.jitter_delay(slot, "job").count();
    CHECK(delay >= 0);
    CHECK(delay <= 30'000);
    CHECK(s.jitter_delay(slot, "job") == s.jitter_delay(slot, "job"));
    delays.insert(delay);
  }
  CHECK(delays.size() > 150);  // spread over the bound in milliseconds, not constant
  CHECK(s.jitter_delay(at("2026-11-25T00:00:00Z"), "job") != s.jitter_delay(at("2026-11-25T00:00:00Z"), "other"));
  Schedule none(Interval{std::chrono::minutes(1), Instant{}}, Zone::utc());
  CHECK(none.jitter_delay(at("2026-11-25T00:00:00Z"), "job").count() == 0);
}

TEST_CASE("resolve_local: gap and overlap", "[schedule]") {
  auto ny = Zone::load("America/New_York").value();
  CHECK(test::in_zone(resolve_local({2026, 3, 8, 2, 30, 0}, *ny), *ny) == "2026-03-08T03:00:00-04:00");
  CHECK(test::in_zone(resolve_local({2026, 11, 1, 1, 30, 0}, *ny), *ny) == "2026-11-01T01:30:00-04:00");
  CHECK(test::in_zone(resolve_local({2026, 7, 1, 12, 0, 0}, *ny), *ny) == "2026-07-01T12:00:00-04:00");
}

TEST_CASE("unknown time zones are refused with the name", "[schedule]") {
  for (const char* name : {"Mars/Olympus", "../../etc/passwd", "", "Europe/London/x"}) {
    auto zone = Zone::load(name);
    REQUIRE_FALSE(zone);
    CHECK(zone.message().find("unknown time zone") == 0);
  }
}
