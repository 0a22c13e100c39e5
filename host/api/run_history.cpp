#include "api/run_history.hpp"

#include <algorithm>

#include "util/time_format.hpp"

namespace cronhost::api {
namespace {

nlohmann::json time_or_null(std::optional<int64_t> ms) {
  if (!ms) return nullptr;
  return format_rfc3339(Instant(std::chrono::seconds(*ms / 1000)), 0);
}

}  // namespace

Result<store::RunQuery> RunHistory::check(const RunHistoryArgs& args) const {
  store::RunQuery query;
  query.limit = kDefaultLimit;
  if (const double* seconds = std::get_if<double>(&args.since)) {
    query.since = clock_.now_ms() - static_cast<int64_t>(*seconds * 1000);
  } else if (const std::string* text = std::get_if<std::string>(&args.since)) {
    auto t = parse_rfc3339(*text);
    if (!t || !t->offset_seconds) return Status::error("field 'since' must be seconds or an RFC 3339 time with an offset");
    query.since = t->instant().time_since_epoch().count() * 1000;
  }
  query.job = args.job;
  if (args.status) {
    query.status = store::parse_status(*args.status);
    if (!query.status)
      return Status::error("unknown status '" + *args.status +
                           "' (succeeded, failed, timed_out, skipped, cancelled, interrupted, queued, running)");
  }
  if (args.limit) {
    if (!(*args.limit >= 1)) return Status::error("field 'limit' must be 1 or more");
    query.limit = static_cast<int>(std::min(*args.limit, kMaxLimit));
  }
  return query;
}

Result<nlohmann::json> RunHistory::runs(const store::RunQuery& query) {
  if (!store_) return Status::error("this run has no state file");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : store_->runs(query))
    out.push_back({{"id", r.id},
                   {"job", r.job},
                   {"trigger", std::string(store::to_string(r.trigger))},
                   {"status", std::string(store::to_string(r.status))},
                   {"attempt", r.attempt},
                   {"scheduled_for", time_or_null(r.scheduled_for)},
                   {"started_at", time_or_null(r.started_at)},
                   {"finished_at", time_or_null(r.finished_at)},
                   {"duration_ms", r.duration_ms ? nlohmann::json(*r.duration_ms) : nlohmann::json()},
                   {"error", r.error},
                   {"notes", r.notes}});
  return out;
}

}  // namespace cronhost::api
