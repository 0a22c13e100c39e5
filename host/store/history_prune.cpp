#include "store/history_prune.hpp"

namespace cronhost::store {

int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps) {
  std::optional<int64_t> before;
  if (retention.keep_days > 0) before = now - int64_t{retention.keep_days} * 86'400'000;
  int64_t removed = 0;
  const auto in_steps = [&removed](const auto& step) {
    for (int64_t deleted = kPruneStepRows; deleted == kPruneStepRows; removed += deleted) deleted = step();
  };
  if (before) in_steps([&] { return steps.delete_finished_before(*before, kPruneStepRows); });
  if (retention.keep_per_job > 0)
    for (auto job = steps.next_job(""); job; job = steps.next_job(*job))
      if (const auto last = steps.newest_beyond(*job, retention.keep_per_job))
        in_steps([&] { return steps.delete_finished_of_job(*job, *last, kPruneStepRows); });
  if (before || retention.keep_per_job > 0)
    for (auto job = steps.next_notified_job(""); job; job = steps.next_notified_job(*job))
      steps.prune_notifications_of(*job, before, retention.keep_per_job);
  return removed;
}

}  // namespace cronhost::store
