// A job's schedule: one or more cron expressions, a fixed interval, a one-shot time, "after
// another job" or "on a host event" - in a time zone, with optional per-slot jitter.
// Immutable once built; safe to share between threads.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "schedule/cron_expr.hpp"
#include "schedule/zone.hpp"
#include "util/time_format.hpp"

namespace cronhost::schedule {

struct CronTimes {
  std::vector<std::string> texts;
  std::vector<CronExpr> exprs;  // fires at the earliest of them
};

// Fires at anchor + k * every; anchoring to a fixed instant means a restart never shifts it.
struct Interval {
  std::chrono::seconds every;
  Instant anchor;
};

struct OneShot {
  Instant at;
};

// Fired by the host when `job` finishes with `status` (succeeded, failed or finished).
struct After {
  std::string job;
  std::string status;
};

// Fired by the host when the event `name` happens (approval.approved, approval.cancelled);
// with `kind` set, only for events about that kind (an approval's kind).
struct OnEvent {
  std::string name;
  std::string kind;
};

class Schedule {
 public:
  using Kind = std::variant<CronTimes, Interval, OneShot, After, OnEvent>;

  Schedule(Kind kind, std::shared_ptr<const Zone> zone, std::chrono::milliseconds jitter = std::chrono::milliseconds(0))
      : kind_(std::move(kind)), zone_(std::move(zone)), jitter_(jitter) {}

  // The next slot strictly after `after`; nothing for After schedules, a one-shot in the
  // past, or an expression that never fires again.
  std::optional<Instant> next(Instant after) const;

  // This job's delay for a slot: in [0, jitter], the same every time the slot is computed,
  // so a restart does not move it. Milliseconds, so jobs can spread within a second.
  std::chrono::milliseconds jitter_delay(Instant slot, std::string_view job_name) const;

  const Kind& kind() const { return kind_; }
  const Zone& zone() const { return *zone_; }
  const std::shared_ptr<const Zone>& zone_ptr() const { return zone_; }
  std::chrono::milliseconds jitter() const { return jitter_; }
  bool fires_by_time() const { return !std::holds_alternative<After>(kind_) && !std::holds_alternative<OnEvent>(kind_); }

  // "0 6 * * *; 0 12 * * *", "every 15m", "at 2026-12-01T09:00:00+10:30", "after backup succeeded",
  // "on approval.approved (kind update)".
  std::string describe() const;

 private:
  Kind kind_;
  std::shared_ptr<const Zone> zone_;
  std::chrono::milliseconds jitter_;
};

}  // namespace cronhost::schedule
