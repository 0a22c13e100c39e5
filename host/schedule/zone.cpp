#include "schedule/zone.hpp"

#include <algorithm>
#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <chrono>
#include <map>
#include <mutex>

namespace cronhost::schedule {
namespace {

// The table covers these years exactly; outside them the first or last offset holds.
// 1800-2500 keeps a DST zone to ~1,400 entries (~17 KB) and loads in well under a millisecond.
constexpr int kFirstYear = 1800;
constexpr int kLastYear = 2500;

int64_t unix_seconds(const cctz::time_point<cctz::seconds>& tp) { return tp.time_since_epoch().count(); }

bool plausible_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '/' || name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
           c == '-' || c == '+';
  });
}

}  // namespace

Result<std::shared_ptr<const Zone>> Zone::load(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Zone>, std::less<>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return it->second;

  cctz::time_zone tz;
  if (!plausible_name(name) || !cctz::load_time_zone(std::string(name), &tz))
    return Result<std::shared_ptr<const Zone>>::error("unknown time zone \"" + std::string(name.substr(0, 64)) +
                                                      "\", expected an IANA name such as Europe/London or UTC");
  auto zone = std::shared_ptr<Zone>(new Zone());
  zone->name_ = std::string(name);
  const auto start = cctz::convert(cctz::civil_second(kFirstYear, 1, 1, 0, 0, 0), cctz::utc_time_zone());
  const auto stop = unix_seconds(cctz::convert(cctz::civil_second(kLastYear, 12, 31, 23, 59, 59), cctz::utc_time_zone()));
  zone->offsets_.push_back(tz.lookup(start).offset);
  auto tp = start;
  cctz::time_zone::civil_transition transition;
  while (tz.next_transition(tp, &transition)) {
    tp = tz.lookup(transition.to).trans;
    if (unix_seconds(tp) > stop) break;
    const int32_t before = tz.lookup(tp - cctz::seconds(1)).offset;
    const int32_t after = tz.lookup(tp).offset;
    if (before == after) continue;  // only the abbreviation or DST flag changed
    zone->changes_.push_back(unix_seconds(tp));
    zone->offsets_.push_back(after);
  }
  cache.emplace(std::string(name), zone);
  return std::shared_ptr<const Zone>(zone);
}

std::shared_ptr<const Zone> Zone::utc() {
  static const std::shared_ptr<const Zone> zone = load("UTC").value();
  return zone;
}

Zone::Segment Zone::segment_at(int64_t t) const {
  const size_t i = static_cast<size_t>(std::upper_bound(changes_.begin(), changes_.end(), t) - changes_.begin());
  return Segment{
      i == 0 ? std::numeric_limits<int64_t>::min() : changes_[i - 1],
      i == changes_.size() ? kNever : changes_[i],
      offsets_[i],
      i == 0 ? offsets_[0] : offsets_[i - 1],
  };
}

}  // namespace cronhost::schedule
