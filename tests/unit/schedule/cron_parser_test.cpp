// The cron grammar, feature by feature, and every error message.
#include <catch2/catch.hpp>

#include "../support/fires.hpp"

using cronhost::test::fires;
using Fires = std::vector<std::string>;

TEST_CASE("cron grammar: each feature fires where it should", "[cron][grammar]") {
  struct Row {
    const char* expr;
    const char* from;
    Fires expected;
  };
  const Row rows[] = {
      {"0 6 * * *", "2026-01-01T00:00:00Z", {"2026-01-01T06:00:00+00:00", "2026-01-02T06:00:00+00:00"}},
      {"*/15 * * * *", "2026-01-01T00:00:00Z", {"2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00"}},
      {"10-50/20 * * * *", "2026-01-01T00:00:00Z",
       {"2026-01-01T00:10:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:50:00+00:00", "2026-01-01T01:10:00+00:00"}},
      {"10/20 3 * * *", "2026-01-01T00:00:00Z", {"2026-01-01T03:10:00+00:00", "2026-01-01T03:30:00+00:00", "2026-01-01T03:50:00+00:00", "2026-01-02T03:10:00+00:00"}},
      {"0 0 1,15 * *", "2026-01-01T00:00:00Z", {"2026-01-15T00:00:00+00:00", "2026-02-01T00:00:00+00:00"}},
      {"0 0 1 JAN,jul *", "2026-01-01T00:00:00Z", {"2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"}},
      {"0 9 * * MON-FRI", "2026-01-02T10:00:00Z", {"2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"}},
      {"0 9 * * FRI-MON", "2026-01-01T10:00:00Z",  // wrapping range: Fri, Sat, Sun, Mon
       {"2026-01-02T09:00:00+00:00", "2026-01-03T09:00:00+00:00", "2026-01-04T09:00:00+00:00", "2026-01-05T09:00:00+00:00", "2026-01-09T09:00:00+00:00"}},
      {"0 22-2 * * *", "2026-01-01T00:30:00Z",  // wrapping hours
       {"2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00", "2026-01-01T22:00:00+00:00", "2026-01-01T23:00:00+00:00", "2026-01-02T00:00:00+00:00"}},
      {"0 0 * * 0", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00+00:00"}},
      {"0 0 * * 7", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00+00:00"}},  // 7 is Sunday too
      {"0 0 * * 5-7", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-09T00:00:00+00:00"}},
      {"0 0 ? * MON", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00+00:00"}},
      {"0 0 L * *", "2026-01-01T00:00:00Z", {"2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-04-30T00:00:00+00:00"}},
      {"0 0 L-2 * *", "2026-01-01T00:00:00Z", {"2026-01-29T00:00:00+00:00", "2026-02-26T00:00:00+00:00"}},
      {"0 0 * * 5L", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"}},  // last Friday
      {"0 0 * * FRIL", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00+00:00"}},
      // croner's spelling of the last Friday: #L after the weekday, number or name, any case.
      {"0 0 * * FRI#L", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"}},
      {"0 0 * * 5#L", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"}},
      {"0 0 * * fri#l", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00+00:00"}},
      {"0 0 * * 7#L", "2026-01-01T00:00:00Z", {"2026-01-25T00:00:00+00:00", "2026-02-22T00:00:00+00:00"}},  // last Sunday
      {"0 0 * * MON#1,FRI#L", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00+00:00", "2026-01-30T00:00:00+00:00", "2026-02-02T00:00:00+00:00"}},
      {"0 0 * * 5#3", "2026-01-01T00:00:00Z", {"2026-01-16T00:00:00+00:00", "2026-02-20T00:00:00+00:00"}},  // third Friday
      {"0 0 * * MON#1", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00+00:00", "2026-02-02T00:00:00+00:00"}},
      {"0 0 * * 0#5", "2026-01-01T00:00:00Z", {"2026-03-29T00:00:00+00:00", "2026-05-31T00:00:00+00:00"}},  // months with five Sundays
      // 15W: the weekday nearest the 15th. 2026-02-15 is a Sunday -> Monday 16th; 2026-03-15 Sunday -> 16th;
      // 2026-08-15 Saturday -> Friday 14th.
      {"0 0 15W * *", "2026-02-01T00:00:00Z", {"2026-02-16T00:00:00+00:00", "2026-03-16T00:00:00+00:00", "2026-04-15T00:00:00+00:00"}},
      {"0 0 15W 8 *", "2026-01-01T00:00:00Z", {"2026-08-14T00:00:00+00:00"}},
      // 1W never leaves the month: 2026-08-01 is a Saturday -> Monday 3rd.
      {"0 0 1W 8 *", "2026-01-01T00:00:00Z", {"2026-08-03T00:00:00+00:00"}},
      // 31W on a Sunday 31st -> Friday 29th (2026-05-31 is a Sunday).
      {"0 0 31W 5 *", "2026-01-01T00:00:00Z", {"2026-05-29T00:00:00+00:00"}},
      // LW: last weekday. 2026-01-31 is Saturday -> Friday 30th; 2026-05-31 Sunday -> Friday 29th.
      {"0 0 LW * *", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-04-30T00:00:00+00:00", "2026-05-29T00:00:00+00:00"}},
      {"@yearly", "2026-03-01T00:00:00Z", {"2027-01-01T00:00:00+00:00"}},
      {"@annually", "2026-03-01T00:00:00Z", {"2027-01-01T00:00:00+00:00"}},
      {"@monthly", "2026-03-01T00:00:00Z", {"2026-04-01T00:00:00+00:00"}},
      {"@weekly", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00+00:00"}},
      {"@daily", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00+00:00"}},
      {"@midnight", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00+00:00"}},
      {"@hourly", "2026-01-01T00:00:00Z", {"2026-01-01T01:00:00+00:00"}},
      {"*/20 * * * * *", "2026-01-01T00:00:00Z", {"2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00", "2026-01-01T00:01:00+00:00"}},
      {"30 0 12 * * *", "2026-01-01T00:00:00Z", {"2026-01-01T12:00:30+00:00"}},
      // The Vixie rule: day-of-month "*/2" counts as unrestricted, so both fields must match:
      // odd-numbered days that are Mondays.
      {"0 0 */2 * MON", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00+00:00", "2026-01-19T00:00:00+00:00", "2026-02-09T00:00:00+00:00"}},
      // Both restricted: either matches (the 1st, or any Monday).
      {"0 0 1 * MON", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00", "2026-01-19T00:00:00+00:00", "2026-01-26T00:00:00+00:00", "2026-02-01T00:00:00+00:00"}},
      {"  0   6  *  *  *  ", "2026-01-01T00:00:00Z", {"2026-01-01T06:00:00+00:00"}},
      {"0 0 29 2 *", "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}},
      {"0 0 * * H(7-7)", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00+00:00"}},  // H may land on 7: Sunday
  };
  for (const auto& row : rows) {
    INFO(row.expr);
    CHECK(fires(row.expr, "UTC", row.from, row.expected.size()) == row.expected);
  }
}

TEST_CASE("cron H spreads by a stable hash of the job name", "[cron][grammar]") {
  using cronhost::schedule::parse_cron;
  auto a = parse_cron("H H * * *", "nightly-backup").value();
  auto again = parse_cron("H H * * *", "nightly-backup").value();
  CHECK(a.minutes == again.minutes);
  CHECK(a.hours == again.hours);
  CHECK(std::popcount(a.minutes) == 1);
  CHECK(std::popcount(a.hours) == 1);
  // Different names land on different minutes (for these two names; checked once, stable forever).
  auto b = parse_cron("H H * * *", "version-check").value();
  CHECK((a.minutes != b.minutes || a.hours != b.hours));

  auto ranged = parse_cron("H(0-29) * * * *", "x").value();
  CHECK(std::countr_zero(ranged.minutes) <= 29);
  CHECK(std::popcount(ranged.minutes) == 1);

  auto stepped = parse_cron("H/15 * * * *", "x").value();
  CHECK(std::popcount(stepped.minutes) == 4);
  CHECK(std::countr_zero(stepped.minutes) < 15);
  CHECK(!stepped.fixed_time);  // H/15 counts as wildcard for daylight saving

  auto day = parse_cron("0 0 H * *", "x").value();
  for (int len = 28; len <= 31; ++len) CHECK(day.day_masks[len - 28][0] != 0);  // H in day-of-month stays in 1-28

  // The exact values are part of the contract: changing the hash would move every H job.
  CHECK(fires("H H * * *", "UTC", "2026-01-01T00:00:00Z", 1, "nightly-backup") ==
        fires(std::to_string(std::countr_zero(a.minutes)) + " " + std::to_string(std::countr_zero(a.hours)) + " * * *",
              "UTC", "2026-01-01T00:00:00Z", 1));
}

TEST_CASE("cron fixed-time versus wildcard classification", "[cron][grammar]") {
  using cronhost::schedule::parse_cron;
  CHECK(parse_cron("0 0-23/2 * * *", "j").value().fixed_time);
  CHECK(!parse_cron("0 */2 * * *", "j").value().fixed_time);
  CHECK(!parse_cron("*/5 3 * * *", "j").value().fixed_time);
  CHECK(parse_cron("H 3 * * *", "j").value().fixed_time);
  CHECK(!parse_cron("@hourly", "j").value().fixed_time);
  CHECK(parse_cron("@daily", "j").value().fixed_time);
  CHECK(!parse_cron("* 30 2 * * *", "j").value().fixed_time);  // seconds wildcard
}

TEST_CASE("cron errors name the field, the value and what was expected", "[cron][errors]") {
  struct Row {
    const char* expr;
    const char* message;
    size_t offset;
  };
  const Row rows[] = {
      {"61 * * * *", "minute field \"61\": 61 is out of range 0-59", 0},
      {"0 24 * * *", "hour field \"24\": 24 is out of range 0-23", 2},
      {"0 0 32 * *", "day-of-month field \"32\": 32 is out of range 1-31", 4},
      {"0 0 0 * *", "day-of-month field \"0\": 0 is out of range 1-31", 4},
      {"0 0 * 13 *", "month field \"13\": 13 is out of range 1-12", 6},
      {"0 0 * FOO *", "month field \"FOO\": unknown value \"FOO\", expected 1-12 or JAN-DEC", 6},
      {"0 0 * * 8", "day-of-week field \"8\": 8 is out of range 0-7", 8},
      {"0 0 * * MON-FUN", "day-of-week field \"MON-FUN\": unknown value \"FUN\", expected 0-7 or SUN-SAT", 12},
      {"0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 4", 6},
      {"0 0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 7", 12},
      {"", "empty cron expression, expected 5 fields such as \"0 6 * * *\"", 0},
      {"*/0 * * * *", "minute field \"*/0\": step 0 is out of range 1-60", 2},
      {"*/ * * * *", "minute field \"*/\": a step is missing after '/'", 2},
      {"1,,2 * * * *", "minute field \"1,,2\": empty list item (two commas in a row, or a trailing comma?)", 2},
      {"0 0 L * L", "day-of-week field \"L\": a bare 'L' is ambiguous in day-of-week; write the weekday before it, e.g. 5L, FRIL or FRI#L for the last Friday", 8},
      {"0 0 * * #L", "day-of-week field \"#L\": \"#L\": a weekday is missing before '#', e.g. FRI#3 or FRI#L", 8},
      {"0 0 * * FRI#", "day-of-week field \"FRI#\": \"FRI#\": the number after '#' must be 1-5 (which weekday of the month) or L (the last)", 12},
      {"0 0 * * 5#LL", "day-of-week field \"5#LL\": \"5#LL\": the number after '#' must be 1-5 (which weekday of the month) or L (the last)", 10},
      {"0 0 * * MON-FRI#L", "day-of-week field \"MON-FRI#L\": \"MON-FRI#L\": '#' follows a single weekday, not a range or step; list them instead, e.g. MON#L,FRI#L", 8},
      {"0 0 * * MON-FRIL", "day-of-week field \"MON-FRIL\": \"MON-FRIL\": 'L' follows a single weekday, not a range or step; list them instead, e.g. MONL,FRIL", 8},
      {"0 0 * * FRY#L", "day-of-week field \"FRY#L\": unknown value \"FRY\", expected 0-7 or SUN-SAT", 8},
      {"L * * * *", "minute field \"L\": \"L\" is not allowed in the minute field (L and W belong in day-of-month, nL and # in day-of-week)", 0},
      {"0 0 * * 5#6", "day-of-week field \"5#6\": \"5#6\": the number after '#' must be 1-5 (which weekday of the month) or L (the last)", 10},
      {"? * * * *", "minute field \"?\": '?' is allowed only in day-of-month and day-of-week", 0},
      {"@reboot", "unknown macro \"@reboot\", expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", 0},
      {"H(5) * * * *", "minute field \"H(5)\": H(...) needs a range such as H(0-29)", 2},
      {"H(9-3) * * * *", "minute field \"H(9-3)\": H(9-3): the range must go upwards", 2},
      {"Hx * * * *", "minute field \"Hx\": \"Hx\": expected H, H(a-b), H/n or H(a-b)/n", 0},
      {"0 0 * * 1-", "day-of-week field \"1-\": a value is missing, expected 0-7 or SUN-SAT", 10},
      {"0 0 L-40 * *", "day-of-month field \"L-40\": \"L-40\": expected L-n with n from 0 to 30 (days before the last)", 4},
      {"99999 * * * *", "minute field \"99999\": 99999 is out of range 0-59", 0},
  };
  for (const auto& row : rows) {
    INFO(row.expr);
    cronhost::schedule::CronParseError error;
    auto parsed = cronhost::schedule::parse_cron(row.expr, "job", &error);
    REQUIRE_FALSE(parsed);
    CHECK(error.message == row.message);
    CHECK(error.offset == row.offset);
  }
}

TEST_CASE("cron rejects a 10,000-character expression quickly", "[cron][errors]") {
  std::string huge(10'000, '1');
  cronhost::schedule::CronParseError error;
  CHECK_FALSE(cronhost::schedule::parse_cron(huge, "j", &error));
  CHECK(error.message == "cron expression is too long (10000 characters, at most 1024)");
  std::string many_items = "0";
  while (many_items.size() < 1000) many_items += ",0";
  CHECK(cronhost::schedule::parse_cron(many_items + " * * * *", "j"));
}
