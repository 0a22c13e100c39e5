// Test helpers: fire times of an expression as RFC 3339 strings, so tables read like the docs.
#pragma once
#include <string>
#include <vector>

#include "schedule/cron_next.hpp"
#include "schedule/cron_parser.hpp"
#include "util/time_format.hpp"

namespace cronhost::test {

inline int64_t unix_at(const std::string& rfc3339) {
  return parse_rfc3339(rfc3339).value().instant().time_since_epoch().count();
}

inline std::string in_zone(int64_t t, const schedule::Zone& zone) {
  return format_rfc3339(Instant(std::chrono::seconds(t)), zone.offset_at(t));
}

// The next `count` fires of `expr` in `zone` after `from`; "none" marks the end.
inline std::vector<std::string> fires(const std::string& expr, const std::string& zone_name, const std::string& from,
                                      size_t count, const std::string& job = "job") {
  auto zone = schedule::Zone::load(zone_name).value();
  auto parsed = schedule::parse_cron(expr, job);
  if (!parsed) return {"parse error: " + parsed.message()};
  std::vector<std::string> out;
  int64_t t = unix_at(from);
  while (out.size() < count) {
    auto next = schedule::next_fire(*parsed, *zone, t);
    if (!next) {
      out.push_back("none");
      break;
    }
    out.push_back(in_zone(*next, *zone));
    t = *next;
  }
  return out;
}

}  // namespace cronhost::test
