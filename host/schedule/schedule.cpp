#include "schedule/schedule.hpp"

#include "schedule/cron_next.hpp"
#include "util/civil.hpp"
#include "util/duration.hpp"

namespace cronhost::schedule {

std::optional<Instant> Schedule::next(Instant after) const {
  const int64_t t = after.time_since_epoch().count();
  if (const auto* cron = std::get_if<CronTimes>(&kind_)) {
    std::optional<int64_t> best;
    for (const CronExpr& expr : cron->exprs)
      if (auto n = next_fire(expr, *zone_, t); n && (!best || *n < *best)) best = n;
    if (!best) return std::nullopt;
    return Instant(std::chrono::seconds(*best));
  }
  if (const auto* interval = std::get_if<Interval>(&kind_)) {
    const int64_t every = interval->every.count();
    const int64_t anchor = interval->anchor.time_since_epoch().count();
    const int64_t k = civil::floor_div(t - anchor, every) + 1;
    return Instant(std::chrono::seconds(anchor + k * every));
  }
  if (const auto* once = std::get_if<OneShot>(&kind_)) {
    if (once->at > after) return once->at;
    return std::nullopt;
  }
  return std::nullopt;
}

std::chrono::milliseconds Schedule::jitter_delay(Instant slot, std::string_view job_name) const {
  if (jitter_.count() <= 0) return std::chrono::milliseconds(0);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : job_name) h = (h ^ c) * 0x100000001b3ULL;
  uint64_t z = h ^ static_cast<uint64_t>(slot.time_since_epoch().count());
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return std::chrono::milliseconds(static_cast<int64_t>(z % static_cast<uint64_t>(jitter_.count() + 1)));
}

std::string Schedule::describe() const {
  if (const auto* cron = std::get_if<CronTimes>(&kind_)) {
    std::string out;
    for (const auto& text : cron->texts) out += (out.empty() ? "" : "; ") + text;
    return out;
  }
  if (const auto* interval = std::get_if<Interval>(&kind_))
    return "every " + format_duration(std::chrono::duration_cast<Millis>(interval->every));
  if (const auto* once = std::get_if<OneShot>(&kind_))
    return "at " + format_rfc3339(once->at, zone_->offset_at(once->at.time_since_epoch().count()));
  if (const auto* event = std::get_if<OnEvent>(&kind_))
    return "on " + event->name + (event->kind.empty() ? "" : " (kind " + event->kind + ")");
  const auto& after = std::get<After>(kind_);
  return "after " + after.job + " " + after.status;
}

}  // namespace cronhost::schedule
