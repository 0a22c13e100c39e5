#include "util/time_format.hpp"

#include <cstdio>

#include "util/civil.hpp"

namespace cronhost {

std::string format_rfc3339(Instant t, int32_t offset_seconds) {
  const int64_t local = t.time_since_epoch().count() + offset_seconds;
  const int64_t days = civil::floor_div(local, 86400);
  const int64_t secs = local - days * 86400;
  const civil::Date date = civil::civil_from_days(days);
  const char sign = offset_seconds < 0 ? '-' : '+';
  const int32_t off = offset_seconds < 0 ? -offset_seconds : offset_seconds;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
                        static_cast<long long>(date.year), date.month, date.day, static_cast<int>(secs / 3600),
                        static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60), sign, off / 3600,
                        off / 60 % 60);
  std::string out(buf, static_cast<size_t>(n));
  if (off % 60 != 0) {  // LMT offsets before 1900 have seconds; RFC 3339 cannot say so, keep it exact
    std::snprintf(buf, sizeof buf, ":%02d", off % 60);
    out += buf;
  }
  return out;
}

Instant WrittenTime::instant() const {
  const int64_t days = civil::days_from_civil(year, month, day);
  return Instant(std::chrono::seconds(days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds.value_or(0)));
}

namespace {

// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view s, size_t& pos, size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int value = 0;
  for (size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

Result<WrittenTime> parse_rfc3339(std::string_view text) {
  const auto fail = [&](const std::string& why) {
    return Result<WrittenTime>::error("bad time \"" + std::string(text.substr(0, 64)) + "\": " + why +
                                      " (expected RFC 3339, e.g. 2026-12-01T09:00:00+10:30)");
  };
  WrittenTime t{};
  size_t pos = 0;
  int year = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') || !read_digits(text, pos, 2, t.month) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, t.day))
    return fail("the date must be YYYY-MM-DD");
  t.year = year;
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' '))
    return fail("a 'T' and a time must follow the date");
  ++pos;
  if (!read_digits(text, pos, 2, t.hour) || !expect(text, pos, ':') || !read_digits(text, pos, 2, t.minute))
    return fail("the time must be hh:mm:ss");
  if (expect(text, pos, ':') && !read_digits(text, pos, 2, t.second)) return fail("the time must be hh:mm:ss");
  if (expect(text, pos, '.') || expect(text, pos, ',')) {
    const size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return fail("digits must follow the decimal point");
  }
  if (t.month < 1 || t.month > 12) return fail("month " + std::to_string(t.month) + " is out of range 1-12");
  if (t.day < 1 || t.day > civil::days_in_month(t.year, t.month))
    return fail("day " + std::to_string(t.day) + " does not exist in that month");
  if (t.hour > 23 || t.minute > 59 || t.second > 59) return fail("the time of day is out of range");
  if (pos == text.size()) return t;  // local time
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
    t.offset_seconds = 0;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh) || !expect(text, pos, ':') || !read_digits(text, pos, 2, om) || oh > 23 ||
        om > 59)
      return fail("the offset must be Z or +hh:mm / -hh:mm");
    t.offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return fail("unexpected \"" + std::string(text.substr(pos, 16)) + "\" after the time");
  }
  if (pos != text.size()) return fail("unexpected \"" + std::string(text.substr(pos, 16)) + "\" after the offset");
  return t;
}

}  // namespace cronhost
