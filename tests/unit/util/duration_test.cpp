#include <catch2/catch.hpp>

#include "util/duration.hpp"

using namespace cronhost;
using namespace std::chrono_literals;

TEST_CASE("durations parse in every unit and in combination", "[duration]") {
  CHECK(parse_duration("500ms").value() == 500ms);
  CHECK(parse_duration("30s").value() == 30s);
  CHECK(parse_duration("15m").value() == 15min);
  CHECK(parse_duration("2h").value() == 2h);
  CHECK(parse_duration("1d").value() == 24h);
  CHECK(parse_duration("1h30m").value() == 90min);
  CHECK(parse_duration("0s").value() == 0ms);
}

TEST_CASE("bad durations say what was expected", "[duration]") {
  const std::pair<const char*, const char*> rows[] = {
      {"", "empty duration: expected a number and a unit (ms, s, m, h, d), e.g. 30s, 15m or 1h30m"},
      {"5", "bad duration \"5\": missing unit; expected a number and a unit (ms, s, m, h, d), e.g. 30s, 15m or 1h30m"},
      {"5x", "bad duration \"5x\": unknown unit \"x\"; expected a number and a unit (ms, s, m, h, d), e.g. 30s, 15m or 1h30m"},
      {"1.5h", "bad duration \"1.5h\": missing unit; expected a number and a unit (ms, s, m, h, d), e.g. 30s, 15m or 1h30m"},
      {"-5s", "bad duration \"-5s\": expected a number and a unit (ms, s, m, h, d), e.g. 30s, 15m or 1h30m"},
      {"99999999999999999999s", "duration \"99999999999999999999s\" is too long (at most 3650d)"},
      {"4000d", "duration \"4000d\" is too long (at most 3650d)"},
  };
  for (auto [text, message] : rows) {
    INFO(text);
    auto d = parse_duration(text);
    REQUIRE_FALSE(d);
    CHECK(d.message() == message);
  }
}

TEST_CASE("durations print in their shortest exact form", "[duration]") {
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(500ms) == "500ms");
  CHECK(format_duration(26h) == "1d2h");
  CHECK(format_duration(0ms) == "0s");
}
