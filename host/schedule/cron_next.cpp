#include "schedule/cron_next.hpp"

#include "util/civil.hpp"

namespace cronhost::schedule {

Civil civil_at(int64_t t, int32_t offset) {
  const int64_t local = t + offset;
  const int64_t days = civil::floor_div(local, 86400);
  const int64_t sod = local - days * 86400;
  const civil::Date date = civil::civil_from_days(days);
  return {date.year, date.month, date.day, static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60),
          static_cast<int>(sod % 60)};
}

int64_t instant_of(const Civil& c, int32_t offset) {
  return civil::days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 + c.minute * 60 + c.second - offset;
}

std::optional<int64_t> next_fire(const CronExpr& expr, const Zone& zone, int64_t after) {
  int64_t s = after + 1;
  const int64_t horizon_year = civil_at(s, 0).year + kSearchYears;
  // Walk the zone's stretches of constant offset from `s` on. Within one stretch wall time
  // runs with absolute time, so the next matching wall time is the next fire.
  for (;;) {
    const Zone::Segment seg = zone.segment_at(s);
    Civil from = civil_at(s, seg.offset);
    if (from.year > horizon_year) return std::nullopt;
    if (expr.fixed_time && s == seg.begin && seg.prev_offset < seg.offset) {
      // A spring-forward ends here: wall times in the gap do not exist; a fixed-time job due
      // in it fires once, at the first instant after the gap.
      const Civil gap_from = civil_at(seg.begin, seg.prev_offset);
      const Civil gap_last = civil_at(seg.begin - 1, seg.offset);
      if (expr.next_civil(gap_from, gap_last)) return seg.begin;
    }
    if (expr.fixed_time && seg.prev_offset > seg.offset) {
      // Just after a fall-back the wall clock repeats an hour; fixed-time fires of that hour
      // already happened in the first pass.
      const Civil repeated_until = civil_at(seg.begin, seg.prev_offset);
      if (from.key() < repeated_until.key()) from = repeated_until;
    }
    const Civil limit = seg.end == Zone::kNever ? Civil{horizon_year, 12, 31, 23, 59, 59}
                                                : civil_at(seg.end - 1, seg.offset);
    if (auto c = expr.next_civil(from, limit)) return instant_of(*c, seg.offset);
    if (seg.end == Zone::kNever) return std::nullopt;
    s = seg.end;
  }
}

}  // namespace cronhost::schedule

namespace cronhost::schedule {

int64_t resolve_local(const Civil& c, const Zone& zone) {
  const int64_t as_utc = instant_of(c, 0);
  // Offsets in force within a day either side cover any offset that wall time could have.
  const int32_t candidates[] = {zone.offset_at(as_utc - 86400), zone.offset_at(as_utc),
                                zone.offset_at(as_utc + 86400)};
  std::optional<int64_t> best;
  for (int32_t offset : candidates) {
    const int64_t t = instant_of(c, offset);
    if (zone.offset_at(t) == offset && (!best || t < *best)) best = t;
  }
  if (best) return *best;
  // Skipped by a spring-forward: the gap ends where the later offset begins.
  return zone.segment_at(instant_of(c, candidates[0])).begin;
}

}  // namespace cronhost::schedule
