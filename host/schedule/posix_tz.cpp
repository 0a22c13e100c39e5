#include "schedule/posix_tz.hpp"

#include <cctype>

#include "util/civil.hpp"

namespace cronhost::schedule {
namespace {

// A cursor over the TZ string; every parse step returns false on anything unexpected.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  bool at(char c) const { return !done() && text_[pos_] == c; }
  bool take(char c) {
    if (done() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // "EST" or "<+0330>": at least three characters either way.
  bool name() {
    const size_t start = pos_;
    if (take('<')) {
      while (!done() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '+' ||
                         text_[pos_] == '-'))
        ++pos_;
      return pos_ - start - 1 >= 3 && take('>');
    }
    while (!done() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return pos_ - start >= 3;
  }

  bool number(int min, int max, int* out) {
    const size_t start = pos_;
    int value = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(text_[pos_])) && pos_ - start < 4)
      value = value * 10 + (text_[pos_++] - '0');
    if (pos_ == start || value < min || value > max) return false;
    *out = value;
    return true;
  }

  // [+-]hh[:mm[:ss]] in seconds, hours up to max_hours.
  bool duration(int max_hours, int32_t* out) {
    int sign = 1;
    if (take('-')) sign = -1;
    else take('+');
    int hours = 0, minutes = 0, seconds = 0;
    if (!number(0, max_hours, &hours)) return false;
    if (take(':') && (!number(0, 59, &minutes) || (take(':') && !number(0, 59, &seconds)))) return false;
    *out = sign * (hours * 3600 + minutes * 60 + seconds);
    return true;
  }

  // ",start[/time]" or ",end[/time]"; times may run from -167 to 167 hours (RFC 8536).
  bool rule(PosixTz::Rule* out) {
    if (!take(',')) return false;
    using Kind = PosixTz::Rule::Kind;
    if (take('M')) {
      out->kind = Kind::kMonthWeekDay;
      if (!number(1, 12, &out->month) || !take('.') || !number(1, 5, &out->week) || !take('.') ||
          !number(0, 6, &out->weekday))
        return false;
    } else if (take('J')) {
      out->kind = Kind::kJulian;
      if (!number(1, 365, &out->day)) return false;
    } else {
      out->kind = Kind::kZeroBased;
      if (!number(0, 365, &out->day)) return false;
    }
    out->time = 2 * 3600;
    return !take('/') || duration(167, &out->time);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// The day (days since 1970-01-01) a rule names in `year`.
int64_t rule_day(const PosixTz::Rule& rule, int64_t year) {
  using Kind = PosixTz::Rule::Kind;
  const int64_t jan1 = civil::days_from_civil(year, 1, 1);
  switch (rule.kind) {
    case Kind::kJulian:
      return jan1 + rule.day - 1 + (civil::is_leap(year) && rule.day >= 60);
    case Kind::kZeroBased:
      return jan1 + rule.day;
    case Kind::kMonthWeekDay:
      break;
  }
  const int64_t first = civil::days_from_civil(year, rule.month, 1);
  int day = (rule.weekday - civil::weekday_from_days(first) + 7) % 7 + 1 + 7 * (rule.week - 1);
  while (day > civil::days_in_month(year, rule.month)) day -= 7;  // week 5: the last one
  return first + day - 1;
}

}  // namespace

std::optional<PosixTz> parse_posix_tz(std::string_view text) {
  Reader reader(text);
  PosixTz tz;
  int32_t west = 0;
  if (!reader.name() || !reader.duration(24, &west)) return std::nullopt;
  tz.std_offset = -west;
  if (reader.done()) return tz;
  if (!reader.name()) return std::nullopt;
  tz.has_dst = true;
  tz.dst_offset = tz.std_offset + 3600;
  if (!reader.at(',')) {  // an explicit daylight offset comes before the rules
    if (!reader.duration(24, &west)) return std::nullopt;
    tz.dst_offset = -west;
  }
  if (!reader.rule(&tz.dst_start) || !reader.rule(&tz.dst_end) || !reader.done()) return std::nullopt;
  return tz;
}

std::array<OffsetChange, 2> dst_changes(const PosixTz& tz, int64_t year) {
  // A rule's time is local: the standard clock's for the start, the daylight clock's for the end.
  const OffsetChange start{rule_day(tz.dst_start, year) * 86400 + tz.dst_start.time - tz.std_offset, tz.dst_offset};
  const OffsetChange end{rule_day(tz.dst_end, year) * 86400 + tz.dst_end.time - tz.dst_offset, tz.std_offset};
  if (start.at < end.at) return {start, end};
  return {end, start};
}

}  // namespace cronhost::schedule
