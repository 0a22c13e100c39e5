// The notification event document (JSON): what a mail describes, the json webhook sends as is,
// the slack/teams formats shape, and a `job` channel's job gets as its event payload:
//   {"event", "job", "host", "at", "summary", "run": {...} (absent without a run), "slot"
//    (missed only), "last_success_at", "failures", "url" (with server.public_url)}
// Pure functions; thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "config/job_spec.hpp"
#include "notify/notify_spec.hpp"
#include "store/records.hpp"

namespace cronhost::notify {

// The run an event is about, as the scheduler knows it when the run ends.
struct RunFacts {
  int64_t id = 0;
  std::optional<int64_t> first_run_id;
  int attempt = 1;
  store::RunStatus status = store::RunStatus::kSucceeded;
  store::Trigger trigger = store::Trigger::kSchedule;
  int64_t scheduled_for = 0, started_at = 0, finished_at = 0;
  std::string error;
  bool retry_pending = false;  // a retry follows: not the last attempt
};

// What the job's history says before an event: consecutive failed runs (retries of one slot
// count once) and the last success.
struct History {
  int failures = 0;
  std::optional<int64_t> last_success_at;
};

struct EventFacts {
  EventKind kind = EventKind::kFailed;
  int64_t at_ms = 0;
  std::optional<RunFacts> run;
  std::optional<int64_t> slot_ms;   // missed
  std::optional<int64_t> since_ms;  // no_success_within: counted from here ...
  std::optional<int64_t> period_ms;  // ... for this long
  std::optional<int64_t> late_ms;   // missed by a late start: how late it started
  History history;
};

std::string iso_utc(int64_t ms);
// The host's name for "host" (gethostname), read once.
const std::string& host_name();

// The document for `facts` about `spec`; `public_url` (server.public_url, may be empty) makes
// "url". Error texts have the job's secret values replaced by ***.
nlohmann::json event_document(const config::JobSpec& spec, const EventFacts& facts, const std::string& public_url);

// The event a finished run makes, if any: failed or timed_out after the last attempt,
// recovered on a success after failures (`history` is the job's before this run).
std::optional<EventKind> event_for_run(const RunFacts& run, const History& history);

// A mail's subject and text for the document.
std::string mail_subject(const nlohmann::json& document);
std::string mail_text(const nlohmann::json& document);

}  // namespace cronhost::notify
