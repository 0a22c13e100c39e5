#include "store/history_prune.hpp"

namespace cronhost::store {

int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps,
                      const std::function<bool()>& keep_going) {
  std::optional<int64_t> before;
  if (retention.keep_days > 0) before = now - int64_t{retention.keep_days} * 86'400'000;
  int64_t removed = 0;
  const auto in_steps = [&](const auto& step) {
    for (int64_t deleted = kPruneStepRows; deleted == kPruneStepRows && keep_going(); removed += deleted)
      deleted = step();
  };
  if (before) in_steps([&] { return steps.delete_finished_before(*before, kPruneStepRows); });
  if (retention.keep_per_job > 0) {
    std::vector<JobCutoff> jobs;
    for (std::string after; keep_going(); after = jobs.back().job) {
      jobs = steps.jobs_after(after, retention.keep_per_job, kPruneStepJobs);
      for (const JobCutoff& job : jobs)
        if (job.last) in_steps([&] { return steps.delete_finished_of_job(job.job, *job.last, kPruneStepRows); });
      if (jobs.size() < static_cast<size_t>(kPruneStepJobs)) break;
    }
  }
  if (before || retention.keep_per_job > 0) {
    std::optional<std::string> last = "";
    while (last && keep_going()) 
      last = steps.prune_notifications_after(*last, before, retention.keep_per_job, kPruneStepJobs, kPruneStepRows);
  }
  return removed;
}

}  // namespace cronhost::store
