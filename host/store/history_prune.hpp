// The run history's retention, applied in small steps. Each step is a store call of its own,
// so the claims and results waiting for the store's thread are written between them: one
// DELETE of a long history held that thread, and every fire behind it, for seconds every 10
// minutes. The stores give the steps; this decides what they delete.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/state_store.hpp"

namespace cronhost::store {

// A job with runs, and its newest run beyond its newest `keep` if it has more.
struct JobCutoff {
  std::string job;
  std::optional<int64_t> last;
};

// A job with notifications, and (in their order: time, then id) its newest one beyond its
// newest `keep` if it has more.
struct NotifiedJob {
  std::string job;
  std::optional<int64_t> last_at, last_id;
};

struct HistoryPruneSteps {
  // Deletes up to `limit` runs finished before `before`; returns how many.
  std::function<int64_t(int64_t before, int limit)> delete_finished_before;
  // Up to `count` jobs with runs whose names sort after `after` (all of them after "": a job's
  // name is never empty), in name order, each with its cutoff for `keep`.
  std::function<std::vector<JobCutoff>(const std::string& after, int keep, int count)> jobs_after;
  // Deletes up to `limit` of the job's finished runs with ids up to `last`; returns how many.
  std::function<int64_t(const std::string& job, int64_t last, int limit)> delete_finished_of_job;
  // As jobs_after, for notifications (`keep` 0: no cutoff).
  std::function<std::vector<NotifiedJob>(const std::string& after, int keep, int count)> notified_jobs_after;
  // Deletes up to `limit` of the job's notifications from before `before` (if set) or up to its
  // cutoff (if it has one), but its newest of each event: the notifier reads it (repeat_every,
  // a recovery, a dead-man period's start). Returns how many.
  std::function<int64_t(const NotifiedJob& job, std::optional<int64_t> before, int limit)> delete_notifications_of;
};

// Rows deleted per step: a few milliseconds of the store's thread.
inline constexpr int kPruneStepRows = 1000;
// Jobs looked at per step, at most: a store call apiece cost ~76 us a job (0.8 s at 10,000
// jobs with nothing to delete).
inline constexpr int kPruneStepJobs = 64;
// A job's cutoff steps through its newest `keep` index entries (OFFSET does not jump), so a
// step looks at fewer jobs when `keep` is large: about this many entries per step.
inline constexpr int kPruneStepEntries = 20'000;

// Deletes the runs finished before `retention.keep_days` and, per job, the finished ones
// beyond its newest `retention.keep_per_job` (a run still going is kept, and counted); then the
// notifications past the same limits. Asks `keep_going` before each step, and stops when it
// says no (a signal waits: SIGTERM is answered within a step, not a whole prune). Returns how
// many runs it deleted. Exceptions of the steps pass through.
int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps,
                      const std::function<bool()>& keep_going);

}  // namespace cronhost::store
