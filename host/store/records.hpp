// Plain data kept in the state file: runs, their triggers and statuses, job state.
// Times are Unix milliseconds. Copyable values; no behaviour beyond naming.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cronhost::store {

enum class Trigger { kSchedule, kManual, kRetry, kCatchup, kAfter };
enum class RunStatus { kQueued, kRunning, kSucceeded, kFailed, kTimedOut, kSkipped, kCancelled, kInterrupted };

std::string_view to_string(Trigger t);
std::string_view to_string(RunStatus s);
std::optional<Trigger> parse_trigger(std::string_view text);
std::optional<RunStatus> parse_status(std::string_view text);
inline bool is_final(RunStatus s) { return s != RunStatus::kQueued && s != RunStatus::kRunning; }

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
  // For schedule and catch-up slots: remember the slot as the job's last (catch-up starts
  // after it) and the next fire time.
  bool record_slot = false;
  std::optional<int64_t> next_fire;
};

struct RunOutcome {
  RunStatus status = RunStatus::kSucceeded;
  int64_t finished_at = 0;
  int64_t duration_ms = 0;
  std::string result_json;  // empty: the script returned nothing
  std::string error;
  std::string output;
  bool output_truncated = false;
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
};

struct JobState {
  std::string job;
  std::optional<bool> enabled_override;
  std::optional<int64_t> last_slot, next_fire;
  int64_t runs = 0, successes = 0, failures = 0;
  std::string last_status;
  std::optional<int64_t> last_finished_at;
};

}  // namespace cronhost::store
