// A parsed cron expression as bit sets, and the search for the next matching wall-clock
// time. Time zones are not known here (see cron_next.hpp). Immutable after parsing, so
// one CronExpr may be read from many threads.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

namespace cronhost::schedule {

// A wall-clock time in some zone, field by field.
struct Civil {
  int64_t year;
  int month, day, hour, minute, second;

  // A number that orders civil times the way the calendar does.
  int64_t key() const {
    return ((((year * 16 + month) * 32 + day) * 32 + hour) * 64 + minute) * 64 + second;
  }
};

// What the day fields say, before they are folded into day_masks (kept for tests and docs).
struct DayRule {
  uint32_t days_of_month = 0;   // bits 1-31
  uint32_t last_day_offsets = 0;  // bit k: "L-k" (bit 0 is plain "L")
  uint32_t nearest_weekdays = 0;  // bits 1-31: "15W"
  bool last_weekday = false;      // "LW"
  uint8_t weekdays = 0;           // bits 0-6, Sunday = 0
  uint64_t nth_weekdays = 0;      // bit (n-1)*7+w: "w#n"
  uint8_t last_weekdays = 0;      // bits 0-6: "5L", last Friday
  bool dom_unrestricted = false;  // field starts with '*' or is '?' (the Vixie rule)
  bool dow_unrestricted = false;
};

struct CronExpr {
  uint64_t seconds = 0;  // bits 0-59
  uint64_t minutes = 0;  // bits 0-59
  uint32_t hours = 0;    // bits 0-23
  uint16_t months = 0;   // bits 1-12
  // Matching days of a month, bits 1-31, indexed by [days in month - 28][weekday of the 1st].
  // Every day rule (L, W, #, the day-of-month/day-of-week OR) depends only on those two.
  std::array<std::array<uint32_t, 7>, 4> day_masks{};
  // Daylight-saving semantics (see README): true when none of the second, minute and hour
  // fields starts with '*' or steps from H.
  bool fixed_time = true;

  void set_days(const DayRule& rule);
  uint32_t days_matching(int64_t year, int month) const;
  bool matches(const Civil& c) const;

  // The first matching civil time at or after `from`, or nothing if it would be after `limit`.
  // Cost is O(months between the two); callers bound `limit`.
  std::optional<Civil> next_civil(Civil from, const Civil& limit) const;
};

}  // namespace cronhost::schedule
