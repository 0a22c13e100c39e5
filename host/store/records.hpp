// Plain data kept in the state file: runs, their triggers and statuses, job state, approvals
// and host events. Times are Unix milliseconds. Copyable values; no behaviour beyond naming.
#pragma once
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cronhost::store {

enum class Trigger { kSchedule, kManual, kRetry, kCatchup, kAfter, kEvent };
enum class RunStatus { kQueued, kRunning, kSucceeded, kFailed, kTimedOut, kSkipped, kCancelled, kInterrupted };

std::string_view to_string(Trigger t);
std::string_view to_string(RunStatus s);
std::optional<Trigger> parse_trigger(std::string_view text);
std::optional<RunStatus> parse_status(std::string_view text);
inline bool is_final(RunStatus s) { return s != RunStatus::kQueued && s != RunStatus::kRunning; }

// What an HTTP runner's JobResult reports about the items a run handled (summed in stats).
struct RunItems {
  int64_t processed = 0, succeeded = 0, failed = 0;
};

// A run claimed for its slot (status queued, or running when it starts at once) or a slot
// recorded as skipped.
struct NewRun {
  std::string job;
  Trigger trigger = Trigger::kSchedule;
  int64_t scheduled_for = 0;
  int attempt = 1;
  std::optional<int64_t> first_run_id;
  RunStatus status = RunStatus::kRunning;
  int64_t started_at = 0;
  int64_t lateness_ms = 0;
  std::string error;  // why, for a skipped slot
  std::string triggered_by;  // manual runs: the API token's name
  std::string params_json;   // manual runs: the params override; empty: none
  std::string event_json;    // event runs and their retries: {name, payload}; empty: none
  // An event run: the event. The claim marks it delivered in its transaction, and a job runs
  // once per event (runs_event_once), so an event fired twice (by two hosts, or again after a
  // failed claim) still runs each job once.
  std::optional<int64_t> event_id;
  std::optional<int64_t> retry_of;  // a retry: the run of the attempt before (its pending retry is taken)
  // For schedule and catch-up slots: remember the slot as the job's last (catch-up starts
  // after it) and the next fire time.
  bool record_slot = false;
  // The catch-up position to record instead of the slot itself: older slots of the job are
  // still waiting to run (catch-up), so the position must not pass them.
  std::optional<int64_t> record_position;
  std::optional<int64_t> next_fire;
  // A run of a `concurrency: forbid` job: on a shared store (PostgreSQL) at most one such run
  // of the job is queued or running across all hosts (runs_exclusive); the claim of a second
  // is refused as busy elsewhere.
  bool exclusive = false;
};

// A run's write to its job's key-value store: a JSON value, or nothing to delete the key.
struct KvWrite {
  std::string key;
  std::optional<std::string> value_json;
};

struct RunOutcome {
  RunStatus status = RunStatus::kSucceeded;
  int64_t finished_at = 0;
  int64_t duration_ms = 0;
  std::string result_json;  // empty: the script returned nothing
  std::string error;
  std::string output;
  bool output_truncated = false;
  std::optional<RunItems> items;
  // When its retry is due (the retry is durable: it runs after a restart); nothing: no retry.
  std::optional<int64_t> retry_at;
  // The run's key-value writes, committed with its outcome: a run the host lost keeps none.
  std::vector<KvWrite> kv_writes;
};

struct RunRecord {
  int64_t id = 0;
  std::string job;
  Trigger trigger = Trigger::kSchedule;
  int64_t scheduled_for = 0;
  int attempt = 1;
  std::optional<int64_t> first_run_id;
  RunStatus status = RunStatus::kQueued;
  std::optional<int64_t> started_at, finished_at, duration_ms, lateness_ms;
  std::string result_json, error, output;
  bool output_truncated = false;
  std::string notes;  // what happened after the run (a mail given up on), one per line
  std::string triggered_by;
  std::optional<RunItems> items;
  std::string params_json;  // a manual run's params override; empty: none
  std::optional<int64_t> retry_at;  // a retry waiting for this time
  std::string event_json;   // an event run's {name, payload}; empty: none
  std::string host;  // the host that claimed it (hostname/pid; PostgreSQL only, empty on SQLite)
};

// A mail in the outbox: the message as JSON (api::to_json) and its delivery attempts.
struct OutboxMail {
  int64_t id = 0;
  std::string job;
  std::optional<int64_t> run_id;
  std::string message_json;
  int attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
};

// A notification decided (notify/notifier.hpp): sent on `channels`, or suppressed by
// repeat_every. `dedup_key` names what it is about, so it is recorded (and sent) once.
struct NotificationRecord {
  int64_t id = 0;
  std::string job;
  std::string event;  // failed, timed_out, recovered, missed, no_success_within
  int64_t at = 0;
  std::optional<int64_t> slot, run_id;
  std::string channels_json = "[]";  // ["mail", "webhook", "job:NAME"]
  bool suppressed = false;
  std::string summary;
  std::string dedup_key;
};

struct JobState {
  std::string job;
  std::optional<bool> enabled_override;
  std::optional<int64_t> last_slot, next_fire;
  int64_t runs = 0, successes = 0, failures = 0;
  std::string last_status;
  std::optional<int64_t> last_finished_at;
  std::string schedule_override;  // JSON {cron, timezone} set over the API; empty: none
};

// An approval's life: a job asks (PENDING), a person approves (APPROVED), the job acts and
// records how it went (EXECUTED or FAILED). Approving one closes the older open ones of its
// group (SUPERSEDED). Cancelling deletes it. Stored upper-case.
enum class ApprovalStatus { kPending, kApproved, kExecuted, kFailed, kSuperseded };

inline constexpr std::array<std::string_view, 5> kApprovalStatuses = {"PENDING", "APPROVED", "EXECUTED", "FAILED",
                                                                      "SUPERSEDED"};
inline std::string_view to_string(ApprovalStatus s) { return kApprovalStatuses[static_cast<size_t>(s)]; }
// Accepts any case ("pending").
inline std::optional<ApprovalStatus> parse_approval_status(std::string_view text) {
  for (size_t i = 0; i < kApprovalStatuses.size(); ++i) {
    const std::string_view name = kApprovalStatuses[i];
    const auto same = [](char upper, char c) { return upper == std::toupper(static_cast<unsigned char>(c)); };
    if (name.size() == text.size() && std::equal(name.begin(), name.end(), text.begin(), same))
      return static_cast<ApprovalStatus>(i);
  }
  return std::nullopt;
}

struct Approval {
  int64_t id = 0;
  std::string job;  // the job that asked
  std::string kind, key;  // what is asked for, e.g. "update" and "0.1.5": at most one open per job and pair
  std::string title;
  std::string payload_json = "{}";
  ApprovalStatus status = ApprovalStatus::kPending;
  int64_t requested_at = 0;
  std::string decided_by;  // empty: not decided
  std::optional<int64_t> decided_at;
  std::optional<int64_t> executed_at;  // EXECUTED only
  std::optional<int64_t> closed_at;    // when it became EXECUTED, FAILED or SUPERSEDED
  std::string notes;  // the decision's note, then the execution's, one per line
  // Approving this one supersedes the older (smaller id) open approvals of the same kind and
  // group, e.g. every older update of one image; empty: none.
  std::string group;
  std::optional<int64_t> superseded_by;  // SUPERSEDED: the approval that was approved
};

// Something that happened in the host, waiting to be delivered to jobs (approval.approved).
struct Event {
  int64_t id = 0;
  std::string name;
  std::string payload_json;
  int64_t created_at = 0;
  std::optional<int64_t> delivered_at;
};

// A job a service registered over the API: its definition as posted (JSON text).
struct RegisteredJob {
  std::string name;
  std::string definition_json;
  std::string registered_by;
  int64_t registered_at = 0, updated_at = 0;
};

// A job's definition as one host loaded it, hashed (dispatch/definition_watch.hpp): hosts
// sharing a store compare them, so a job that differs between them is said, not silent.
struct DefinitionHash {
  std::string job;
  std::string hash;
};

// A job whose definition differs between live hosts: each host's name and hash, by name.
struct DefinitionDrift {
  std::string job;
  std::vector<std::pair<std::string, std::string>> hosts;  // (host name, hash)
};

// One audited action over the API (job.trigger, job.enable, approval.approve, ...).
struct AuditEntry {
  int64_t id = 0;
  int64_t at = 0;
  std::string actor, action, target;
  std::string detail_json;  // empty: none
};

// A job's runs over a window: counts of finished runs (skipped slots left out), durations,
// lateness and the item counts HTTP runners reported.
struct RunStats {
  int64_t runs = 0, successes = 0, failures = 0;
  int64_t p50_ms = 0, p95_ms = 0, max_ms = 0;
  double avg_lateness_ms = 0;
  RunItems items;
};

}  // namespace cronhost::store
