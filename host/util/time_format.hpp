// RFC 3339 timestamps: printing an instant with the zone offset in force, and parsing
// what an operator types on the command line or in a job file.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace cronhost {

using Instant = std::chrono::sys_seconds;

// "2026-10-04T03:00:00+10:30"; offset_seconds is the zone's UTC offset at `t`.
std::string format_rfc3339(Instant t, int32_t offset_seconds);

// A wall-clock time as written, with its UTC offset if one was given.
struct WrittenTime {
  int64_t year;
  int month, day, hour, minute, second;
  std::optional<int32_t> offset_seconds;  // absent: a local time, to be read in some zone

  // The instant, valid only when offset_seconds is set.
  Instant instant() const;
};

// Accepts "2026-12-01T09:00:00+10:30", "...Z", fractional seconds (dropped), a space instead
// of 'T', and no offset at all (a local time). Fails naming what was expected.
Result<WrittenTime> parse_rfc3339(std::string_view text);

}  // namespace cronhost
