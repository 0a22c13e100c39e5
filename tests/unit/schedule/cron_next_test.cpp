// Next-fire searches across month ends, leap years and year ends, and bounded searches.
#include <catch2/catch.hpp>

#include "../support/fires.hpp"

using cronhost::test::fires;
using Fires = std::vector<std::string>;

TEST_CASE("next fire crosses month ends, leap days and year ends", "[cron][next]") {
  struct Row {
    const char* expr;
    const char* zone;
    const char* from;
    Fires expected;
  };
  const Row rows[] = {
      {"0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", {"2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00"}},
      {"0 0 30 * *", "UTC", "2026-01-30T00:00:00Z", {"2026-03-30T00:00:00+00:00"}},  // February has no 30th
      {"0 12 29 2 *", "UTC", "2024-02-29T12:00:00Z", {"2028-02-29T12:00:00+00:00"}},
      {"0 0 L 2 *", "UTC", "2027-01-01T00:00:00Z", {"2027-02-28T00:00:00+00:00", "2028-02-29T00:00:00+00:00"}},
      {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00+00:00"}},  // 2100 is not a leap year
      {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", {"2027-12-31T23:59:00+00:00"}},
      {"0 0 1 1 *", "UTC", "2026-12-31T23:59:59Z", {"2027-01-01T00:00:00+00:00"}},
      {"* * * * *", "UTC", "2026-12-31T23:59:30Z", {"2027-01-01T00:00:00+00:00", "2027-01-01T00:01:00+00:00"}},
      {"* * * * * *", "UTC", "2026-12-31T23:59:59Z", {"2027-01-01T00:00:00+00:00"}},
      {"0 0 * * *", "UTC", "2026-01-01T00:00:00.5Z", {"2026-01-02T00:00:00+00:00"}},  // strictly after
      {"0 0 * * *", "UTC", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00+00:00"}},
      {"0 9 * * *", "Asia/Kolkata", "2026-06-01T00:00:00Z", {"2026-06-01T09:00:00+05:30", "2026-06-02T09:00:00+05:30"}},
      {"0 0 1 1 *", "Pacific/Kiritimati", "2026-12-31T09:59:59Z", {"2027-01-01T00:00:00+14:00"}},
      // 2026-01-01T00:00Z is still 2025-12-31 13:00 in Pago Pago.
      {"30 23 31 12 *", "Pacific/Pago_Pago", "2026-01-01T00:00:00Z", {"2025-12-31T23:30:00-11:00", "2026-12-31T23:30:00-11:00"}},
      {"0 0 28-31 * *", "UTC", "2099-12-27T00:00:00Z", {"2099-12-28T00:00:00+00:00", "2099-12-29T00:00:00+00:00", "2099-12-30T00:00:00+00:00", "2099-12-31T00:00:00+00:00", "2100-01-28T00:00:00+00:00"}},
      {"0 6 * * *", "Australia/Adelaide", "2099-12-31T00:00:00Z", {"2100-01-01T06:00:00+10:30"}},
      // The last Sunday of February lands on the month's last day in 2027 (croner's SUN#L).
      {"0 0 * 2 SUN#L", "UTC", "2026-01-01T00:00:00Z", {"2026-02-22T00:00:00+00:00", "2027-02-28T00:00:00+00:00"}},
      {"0 0 * 2 5#L", "UTC", "2026-03-01T00:00:00Z", {"2027-02-26T00:00:00+00:00", "2028-02-25T00:00:00+00:00"}},
  };
  for (const auto& row : rows) {
    INFO(row.expr << " in " << row.zone << " from " << row.from);
    CHECK(fires(row.expr, row.zone, row.from, row.expected.size()) == row.expected);
  }
}

TEST_CASE("expressions that never fire are found without hanging", "[cron][next]") {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4 *", "0 0 31 6,9,11 *", "0 0 31 2,4 ?"}) {
    INFO(expr);
    CHECK(fires(expr, "UTC", "2026-01-01T00:00:00Z", 1) == Fires{"none"});
    CHECK(fires(expr, "America/New_York", "2026-01-01T00:00:00Z", 1) == Fires{"none"});
  }
  // Rare but real: the fifth Friday of February happens only in leap years starting on a Friday.
  CHECK(fires("0 0 * 2 5#5", "UTC", "2026-01-01T00:00:00Z", 1) == Fires{"2036-02-29T00:00:00+00:00"});
}
