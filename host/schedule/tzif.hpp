// Reads a TZif file (RFC 8536), the format of /usr/share/zoneinfo: its transitions, the UTC
// offset each brings, and the TZ string that rules after the last one. Pure; thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "schedule/posix_tz.hpp"
#include "util/status.hpp"

namespace cronhost::schedule {

struct TzifZone {
  int32_t initial_offset = 0;      // in force before the first transition (time type 0)
  std::vector<int64_t> times;      // transitions in Unix seconds, strictly ascending
  std::vector<int32_t> offsets;    // offsets[i] is in force from times[i]
  std::optional<PosixTz> footer;   // the rule after the last transition, when the file has one
};

// Fails naming what is wrong: a bad magic or count, data cut short, an index out of range,
// transitions out of order, a UTC offset past -25 h or +26 h, leap seconds (the "right/" zones,
// which cron times cannot use), or a TZ string that does not parse or, without daylight
// saving, disagrees with the last transition.
Result<TzifZone> read_tzif(std::string_view bytes);

}  // namespace cronhost::schedule
