#include "store/history_prune.hpp"

#include <algorithm>

namespace cronhost::store {

int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps,
                      const std::function<bool()>& keep_going) {
  std::optional<int64_t> before;
  if (retention.keep_days > 0) before = now - int64_t{retention.keep_days} * 86'400'000;
  const int keep = retention.keep_per_job;
  const size_t jobs_per_step = std::clamp(kPruneStepEntries / std::max(keep, 1), 1, kPruneStepJobs);
  // A step at a time while each deletes a whole step's rows; returns how many it deleted.
  const auto in_steps = [&](const auto& step) {
    int64_t deleted = 0;
    for (int64_t rows = kPruneStepRows; rows == kPruneStepRows && keep_going(); deleted += rows) rows = step();
    return deleted;
  };
  int64_t runs = 0;
  if (before) runs += in_steps([&] { return steps.delete_finished_before(*before, kPruneStepRows); });
  if (keep > 0) {
    std::vector<JobCutoff> jobs;
    for (std::string after; keep_going(); after = jobs.back().job) {
      jobs = steps.jobs_after(after, keep, static_cast<int>(jobs_per_step));
      for (const JobCutoff& job : jobs)
        if (job.last) runs += in_steps([&] { return steps.delete_finished_of_job(job.job, *job.last, kPruneStepRows); });
      if (jobs.size() < jobs_per_step) break;
    }
  }
  if (before || keep > 0) {
    std::vector<NotifiedJob> jobs;
    for (std::string after; keep_going(); after = jobs.back().job) {
      jobs = steps.notified_jobs_after(after, keep, static_cast<int>(jobs_per_step));
      for (const NotifiedJob& job : jobs)
        if (before || job.last_id)
          in_steps([&] { return steps.delete_notifications_of(job, before, kPruneStepRows); });
      if (jobs.size() < jobs_per_step) break;
    }
  }
  return runs;
}

}  // namespace cronhost::store
