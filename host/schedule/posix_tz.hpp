// The POSIX TZ string that ends a TZif file ("CET-1CEST,M3.5.0,M10.5.0/3"): the rule a zone
// follows after the file's last transition (RFC 8536 section 3.3, POSIX.1 "TZ"). Pure values
// and functions; thread-safe.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cronhost::schedule {

struct PosixTz {
  // The day a change happens: "Jn" (1-365, February 29 never counted), "n" (0-365, counting
  // it), or "Mm.w.d" (weekday d of week w of month m; week 5 is the last).
  struct Rule {
    enum class Kind { kJulian, kZeroBased, kMonthWeekDay } kind = Kind::kZeroBased;
    int day = 0;                   // n for kJulian and kZeroBased
    int month = 0, week = 0, weekday = 0;
    int32_t time = 2 * 3600;       // seconds after local midnight, may be negative or past 24 h
  };
  int32_t std_offset = 0;  // seconds east of UTC (POSIX writes west as positive: "EST5")
  bool has_dst = false;
  int32_t dst_offset = 0;
  Rule dst_start, dst_end;
};

// Parses a TZ string; nullopt when it is not one RFC 8536 allows.
std::optional<PosixTz> parse_posix_tz(std::string_view text);

struct OffsetChange {
  int64_t at;      // Unix seconds
  int32_t offset;  // in force from `at`
};

// The two changes a zone with daylight saving makes in `year`, earlier first.
std::array<OffsetChange, 2> dst_changes(const PosixTz& tz, int64_t year);

}  // namespace cronhost::schedule
