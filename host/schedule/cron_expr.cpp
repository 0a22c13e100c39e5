#include "schedule/cron_expr.hpp"

#include <bit>

#include "util/civil.hpp"

namespace cronhost::schedule {
namespace {

// The lowest set bit of `mask` at or above `from`, or -1.
inline int first_from(uint64_t mask, int from) {
  if (from >= 64) return -1;
  const uint64_t m = mask & (~uint64_t{0} << from);
  return m ? std::countr_zero(m) : -1;
}

uint32_t day_mask_for(const DayRule& r, int len, int wd1) {
  const uint32_t in_month = ((uint32_t{1} << len) - 1) << 1;  // bits 1..len
  const auto weekday_of = [&](int day) { return (wd1 + day - 1) % 7; };

  uint32_t dom = r.days_of_month;
  for (int k = 0; k < 31; ++k)
    if ((r.last_day_offsets >> k & 1) && len - k >= 1) dom |= uint32_t{1} << (len - k);
  for (int d = 1; d <= len; ++d) {
    if (!(r.nearest_weekdays >> d & 1)) continue;
    int w = weekday_of(d), target = d;
    if (w == 6) target = d == 1 ? d + 2 : d - 1;    // Saturday: Friday, or Monday on the 1st
    if (w == 0) target = d == len ? d - 2 : d + 1;  // Sunday: Monday, or Friday on the last day
    dom |= uint32_t{1} << target;
  }
  if (r.last_weekday) {
    int w = weekday_of(len);
    dom |= uint32_t{1} << (w == 6 ? len - 1 : w == 0 ? len - 2 : len);
  }

  uint32_t dow = 0;
  for (int w = 0; w < 7; ++w) {
    const int first = 1 + (w - wd1 + 7) % 7;  // first day of the month that is weekday w
    if (r.weekdays >> w & 1)
      for (int d = first; d <= len; d += 7) dow |= uint32_t{1} << d;
    for (int n = 1; n <= 5; ++n)
      if ((r.nth_weekdays >> ((n - 1) * 7 + w) & 1) && first + 7 * (n - 1) <= len)
        dow |= uint32_t{1} << (first + 7 * (n - 1));
    if (r.last_weekdays >> w & 1) dow |= uint32_t{1} << (len - (weekday_of(len) - w + 7) % 7);
  }

  dom &= in_month;
  dow &= in_month;
  // Vixie/cronie: if either field is unrestricted both must match, else either may.
  return (r.dom_unrestricted || r.dow_unrestricted) ? (dom & dow) : (dom | dow);
}

}  // namespace

void CronExpr::set_days(const DayRule& rule) {
  // Every weekday and plain days of the month (most expressions): the first day's weekday
  // changes nothing, so each month length is computed once. All 28 took 3% of loading
  // 100,000 job files.
  const bool weekday_blind = rule.weekdays == 0x7F && !rule.nth_weekdays && !rule.last_weekdays &&
                             !rule.nearest_weekdays && !rule.last_weekday;
  for (int len = 28; len <= 31; ++len)
    for (int wd1 = 0; wd1 < 7; ++wd1)
      day_masks[len - 28][wd1] = weekday_blind && wd1 > 0 ? day_masks[len - 28][0] : day_mask_for(rule, len, wd1);
}

uint32_t CronExpr::days_matching(int64_t year, int month) const {
  const int len = civil::days_in_month(year, month);
  const int wd1 = civil::weekday_from_days(civil::days_from_civil(year, month, 1));
  return day_masks[len - 28][wd1];
}

bool CronExpr::matches(const Civil& c) const {
  return (seconds >> c.second & 1) && (minutes >> c.minute & 1) && (hours >> c.hour & 1) &&
         (months >> c.month & 1) && (days_matching(c.year, c.month) >> c.day & 1);
}

std::optional<Civil> CronExpr::next_civil(Civil from, const Civil& limit) const {
  int64_t y = from.year;
  int mo = from.month, d = from.day, h = from.hour, mi = from.minute, s = from.second;
  const int64_t limit_month = limit.year * 16 + limit.month;
  // Each pass either returns or moves to a later second, minute, hour, day, month or year;
  // the month check bounds the whole search.
  for (;;) {
    const int month = first_from(months, mo);
    if (month < 0) {
      ++y, mo = 1, d = 1, h = mi = s = 0;
      if (y * 16 + 1 > limit_month) return std::nullopt;
      continue;
    }
    if (month != mo) mo = month, d = 1, h = mi = s = 0;
    if (y * 16 + mo > limit_month) return std::nullopt;
    const int day = first_from(days_matching(y, mo), d);
    if (day < 0) {
      if (++mo > 12) ++y, mo = 1;
      d = 1, h = mi = s = 0;
      continue;
    }
    if (day != d) d = day, h = mi = s = 0;
    const int hour = first_from(hours, h);
    if (hour < 0) {
      ++d, h = mi = s = 0;
      continue;
    }
    if (hour != h) h = hour, mi = s = 0;
    const int minute = first_from(minutes, mi);
    if (minute < 0) {
      ++h, mi = s = 0;
      continue;
    }
    if (minute != mi) mi = minute, s = 0;
    const int second = first_from(seconds, s);
    if (second < 0) {
      ++mi, s = 0;
      continue;
    }
    Civil found{y, mo, d, h, mi, second};
    if (found.key() > limit.key()) return std::nullopt;
    return found;
  }
}

}  // namespace cronhost::schedule
