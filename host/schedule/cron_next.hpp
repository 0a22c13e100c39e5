// Next fire time of a cron expression in a time zone, with cronie's daylight-saving rules:
//  - fixed-time expressions (no '*' or H/n in second, minute, hour): a wall time skipped by a
//    spring-forward gap fires once at the first instant after the gap; a wall time repeated
//    by a fall-back fires only at its first occurrence;
//  - wildcard expressions follow absolute time: nothing fires in a gap, and both occurrences
//    of a repeated wall time fire.
// Pure and thread-safe.
#pragma once
#include <cstdint>
#include <optional>

#include "schedule/cron_expr.hpp"
#include "schedule/zone.hpp"

namespace cronhost::schedule {

// How far ahead a search looks before it concludes that an expression never fires. The
// Gregorian calendar (weekdays included) repeats every 400 years, so nothing is missed.
constexpr int kSearchYears = 400;

// The first fire strictly after `after` (Unix seconds), or nothing within kSearchYears.
std::optional<int64_t> next_fire(const CronExpr& expr, const Zone& zone, int64_t after);

// The wall-clock time at `t` for a zone offset, and back.
Civil civil_at(int64_t t, int32_t offset);
int64_t instant_of(const Civil& c, int32_t offset);

}  // namespace cronhost::schedule

namespace cronhost::schedule {

// The instant a wall-clock time names in `zone`: the earlier one when the wall time is
// repeated (fall-back), the first instant after the gap when it is skipped (spring-forward).
int64_t resolve_local(const Civil& c, const Zone& zone);

}  // namespace cronhost::schedule
