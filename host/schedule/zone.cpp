#include "schedule/zone.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

#include "schedule/tzif.hpp"
#include "util/civil.hpp"
#include "util/read_file.hpp"

namespace cronhost::schedule {
namespace {

// The table covers these years exactly; outside them the first or last offset holds.
// 1800-2500 keeps a DST zone to ~1,400 entries (~17 KB) and loads in well under a millisecond.
constexpr int kFirstYear = 1800;
constexpr int kLastYear = 2500;
constexpr int64_t kTableStart = civil::days_from_civil(kFirstYear, 1, 1) * 86400;
constexpr int64_t kTableStop = civil::days_from_civil(kLastYear + 1, 1, 1) * 86400 - 1;
constexpr size_t kMaxFileBytes = 1 << 20;  // the largest zone in tzdata 2024 is ~3 KB

bool plausible_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '/' || name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
           c == '-' || c == '+';
  });
}

// Where the tz database lives: $TZDIR as glibc and cctz read it, else Debian's folder.
std::string zone_file(std::string_view name) {
  const char* dir = std::getenv("TZDIR");
  return std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
}

// Every change in force at some instant: the file's transitions, then its TZ string's
// changes for each year after the last, up to the end of the table. Changes at one instant
// (a year's end and the next one's start under all-year daylight saving) stay in order.
std::vector<OffsetChange> all_changes(const TzifZone& tzif) {
  std::vector<OffsetChange> changes;
  for (size_t i = 0; i < tzif.times.size(); ++i) changes.push_back({tzif.times[i], tzif.offsets[i]});
  if (!tzif.footer || !tzif.footer->has_dst) return changes;
  const int64_t last = tzif.times.empty() ? std::numeric_limits<int64_t>::min() : tzif.times.back();
  const int64_t last_year = tzif.times.empty() ? kFirstYear : civil::civil_from_days(civil::floor_div(last, 86400)).year;
  const int64_t first_year = std::max<int64_t>(kFirstYear, last_year) - 1;
  const size_t from_rule = changes.size();
  for (int64_t year = first_year; year <= kLastYear + 1; ++year)
    for (const OffsetChange& change : dst_changes(*tzif.footer, year))
      if (change.at > last) changes.push_back(change);
  std::stable_sort(changes.begin() + static_cast<ptrdiff_t>(from_rule), changes.end(),
                   [](const OffsetChange& a, const OffsetChange& b) { return a.at < b.at; });
  return changes;
}

}  // namespace

Result<std::shared_ptr<const Zone>> Zone::load(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Zone>, std::less<>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return it->second;

  const auto unknown = [&] {
    return Result<std::shared_ptr<const Zone>>::error("unknown time zone \"" + std::string(name.substr(0, 64)) +
                                                      "\", expected an IANA name such as Europe/London or UTC");
  };
  if (!plausible_name(name)) return unknown();
  TzifZone tzif;  // "UTC" and "UTC0" need no file, as in cctz: a host without tzdata still runs in UTC
  if (name != "UTC" && name != "UTC0") {
    const std::string path = zone_file(name);
    std::string bytes;
    struct stat st {};
    std::string why_not;  // missing, a folder, a FIFO, too big: not a zone
    if (!read_file(path, bytes, st, why_not, kMaxFileBytes)) return unknown();
    auto read = read_tzif(bytes);
    if (!read)
      return Result<std::shared_ptr<const Zone>>::error("time zone \"" + std::string(name) + "\": " + path +
                                                        " is not a zone file the tz database writes: " + read.message());
    tzif = std::move(read).value();
  }

  auto zone = std::shared_ptr<Zone>(new Zone());
  zone->name_ = std::string(name);
  const std::vector<OffsetChange> changes = all_changes(tzif);
  int32_t current = tzif.initial_offset;
  size_t i = 0;
  for (; i < changes.size() && changes[i].at <= kTableStart; ++i) current = changes[i].offset;
  zone->offsets_.push_back(current);
  while (i < changes.size() && changes[i].at <= kTableStop) {
    const int64_t at = changes[i].at;
    for (; i < changes.size() && changes[i].at == at; ++i) current = changes[i].offset;
    if (current == zone->offsets_.back()) continue;  // only the abbreviation or DST flag changed
    zone->changes_.push_back(at);
    zone->offsets_.push_back(current);
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
