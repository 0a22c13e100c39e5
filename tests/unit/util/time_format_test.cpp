#include <catch2/catch.hpp>

#include "util/time_format.hpp"

using namespace cronhost;

TEST_CASE("RFC 3339 output carries the offset at that instant", "[time]") {
  const Instant t(std::chrono::seconds(1791045000));  // 2026-10-03T16:30:00Z
  CHECK(format_rfc3339(t, 0) == "2026-10-03T16:30:00+00:00");
  CHECK(format_rfc3339(t, 37800) == "2026-10-04T03:00:00+10:30");
  CHECK(format_rfc3339(t, -18000) == "2026-10-03T11:30:00-05:00");
  CHECK(format_rfc3339(t, 49500) == "2026-10-04T06:15:00+13:45");
  CHECK(format_rfc3339(Instant(std::chrono::seconds(-1)), 0) == "1969-12-31T23:59:59+00:00");
}

TEST_CASE("RFC 3339 input forms", "[time]") {
  CHECK(parse_rfc3339("2026-10-04T03:00:00+10:30").value().instant().time_since_epoch().count() == 1791045000);
  CHECK(parse_rfc3339("2026-10-03T16:30:00Z").value().instant().time_since_epoch().count() == 1791045000);
  CHECK(parse_rfc3339("2026-10-03 16:30:00.999z").value().instant().time_since_epoch().count() == 1791045000);
  CHECK(parse_rfc3339("2026-10-03T16:30Z").value().instant().time_since_epoch().count() == 1791045000);
  auto local = parse_rfc3339("2026-10-04T03:00:00").value();
  CHECK_FALSE(local.offset_seconds.has_value());
  CHECK(local.hour == 3);
}

TEST_CASE("RFC 3339 errors say what is wrong", "[time]") {
  const std::pair<const char*, const char*> rows[] = {
      {"tomorrow", "the date must be YYYY-MM-DD"},
      {"2026-02-30T00:00:00Z", "day 30 does not exist in that month"},
      {"2026-13-01T00:00:00Z", "month 13 is out of range 1-12"},
      {"2026-01-01", "a 'T' and a time must follow the date"},
      {"2026-01-01T25:00:00Z", "the time of day is out of range"},
      {"2026-01-01T00:00:00+5", "the offset must be Z or +hh:mm / -hh:mm"},
      {"2026-01-01T00:00:00Zjunk", "unexpected \"junk\" after the offset"},
  };
  for (auto [text, why] : rows) {
    INFO(text);
    auto t = parse_rfc3339(text);
    REQUIRE_FALSE(t);
    CHECK(t.message() == "bad time \"" + std::string(text) + "\": " + why +
                             " (expected RFC 3339, e.g. 2026-12-01T09:00:00+10:30)");
  }
}
