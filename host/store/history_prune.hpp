// The run history's retention, applied in small steps. Each step is a store call of its own
// (its own transaction), so the claims and results waiting for the store's thread are written
// between them: one DELETE of a long history held that thread, and every fire behind it, for
// seconds every 10 minutes. The stores give the steps; this decides what they delete.
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

struct HistoryPruneSteps {
  // Deletes up to `limit` runs finished before `before`; returns how many.
  std::function<int64_t(int64_t before, int limit)> delete_finished_before;
  // Up to `count` jobs with runs whose names sort after `after` (all of them after "": a job's
  // name is never empty), in name order, each with its cutoff for `keep`.
  std::function<std::vector<JobCutoff>(const std::string& after, int keep, int count)> jobs_after;
  // Deletes up to `limit` of the job's finished runs with ids up to `last`; returns how many.
  std::function<int64_t(const std::string& job, int64_t last, int limit)> delete_finished_of_job;
  // For up to `count` jobs with notifications whose names sort after `after`, in name order,
  // and no more once `rows` are deleted: deletes their notifications from before `before` (if
  // set) and beyond their newest `keep` (if above 0), but each one's newest of each event: the
  // notifier reads it (repeat_every, a recovery, a dead-man period's start). Returns the last
  // job it pruned when it stopped early or at `count` (more may follow), else nothing.
  std::function<std::optional<std::string>(const std::string& after, std::optional<int64_t> before, int keep,
                                           int count, int rows)>
      prune_notifications_after;
};

// Jobs looked at per step: a call apiece cost ~40 us, 4 s every 10 minutes at 100,000 jobs.
inline constexpr int kPruneStepJobs = 64;
// Rows deleted per step: a few milliseconds of the store's thread.
inline constexpr int kPruneStepRows = 1000;

// Deletes the runs finished before `retention.keep_days` and, per job, the finished ones
// beyond its newest `retention.keep_per_job` (a run still going is kept, and counted); then the
// notifications past the same limits. Asks `keep_going` before each step, and stops when it
// says no (a signal waits: SIGTERM is answered within a step, not a whole prune). Returns how
// many runs it deleted. Exceptions of the steps pass through.
int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps,
                      const std::function<bool()>& keep_going);

}  // namespace cronhost::store
