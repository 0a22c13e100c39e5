#include "store/history_prune.hpp"

namespace cronhost::store {

int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps) {
  int64_t removed = 0;
  if (retention.keep_days > 0) {
    const int64_t before = now - int64_t{retention.keep_days} * 86'400'000;
    for (int64_t step = kPruneStepRows; step == kPruneStepRows;) {
      step = steps.delete_finished_before(before, kPruneStepRows);
      removed += step;
    }
  }
  if (retention.keep_per_job > 0) {
    for (auto job = steps.next_job(""); job; job = steps.next_job(*job)) {
      const auto last = steps.newest_beyond(*job, retention.keep_per_job);
      if (!last) continue;
      for (int64_t step = kPruneStepRows; step == kPruneStepRows;) {
        step = steps.delete_finished_of_job(*job, *last, kPruneStepRows);
        removed += step;
      }
    }
  }
  return removed;
}

}  // namespace cronhost::store
