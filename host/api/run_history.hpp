// The host's own run history as a job reads it (host.runs, and the plugin vtable's twin):
// the query's checks and defaults (limit 1000, capped at 10000; since as seconds back or an
// RFC 3339 time) and each run as the JSON a script or plugin sees. The one implementation;
// the Lua binding only converts. Read-only; belongs to the run's thread.
#pragma once
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "store/state_store.hpp"
#include "util/clock.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct RunHistoryArgs {
  std::variant<std::monostate, double, std::string> since;  // seconds back from now, or RFC 3339
  std::string job;                                          // empty: every job's runs
  std::optional<std::string> status;
  std::optional<double> limit;
};

class RunHistory {
 public:
  static constexpr int kDefaultLimit = 1000;
  static constexpr double kMaxLimit = 10000;

  // `store` may be null (a run without a state file): runs() then fails.
  explicit RunHistory(store::RunReader* store, const Clock& clock = SystemClock::instance())
      : store_(store), clock_(clock) {}

  // The query, validated: "field 'since' must be seconds or an RFC 3339 time with an offset".
  Result<store::RunQuery> check(const RunHistoryArgs& args) const;
  // Newest first, each {id, job, trigger, status, attempt, scheduled_for, started_at,
  // finished_at (RFC 3339 UTC or null), duration_ms, error, notes}.
  Result<nlohmann::json> runs(const store::RunQuery& query);

 private:
  store::RunReader* store_;
  const Clock& clock_;
};

}  // namespace cronhost::api
