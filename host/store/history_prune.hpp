// The run history's retention, applied in small steps. Each step is a store call of its own
// (its own transaction), so the claims and results waiting for the store's thread are written
// between them: one DELETE of a long history held that thread, and every fire behind it, for
// seconds every 10 minutes. The stores give the steps; this decides what they delete.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "store/state_store.hpp"

namespace cronhost::store {

struct HistoryPruneSteps {
  // Deletes up to `limit` runs finished before `before`; returns how many.
  std::function<int64_t(int64_t before, int limit)> delete_finished_before;
  // The first job with runs whose name sorts after `after` (all of them after "": none sorts
  // first, a job's name is never empty).
  std::function<std::optional<std::string>(const std::string& after)> next_job;
  // The job's newest run beyond its newest `keep`, if it has more.
  std::function<std::optional<int64_t>(const std::string& job, int keep)> newest_beyond;
  // Deletes up to `limit` of the job's finished runs with ids up to `last`; returns how many.
  std::function<int64_t(const std::string& job, int64_t last, int limit)> delete_finished_of_job;
  // The first job with notifications whose name sorts after `after`.
  std::function<std::optional<std::string>(const std::string& after)> next_notified_job;
  // Deletes the job's notifications from before `before` (if set) and beyond its newest
  // `keep` (if above 0), but its newest of each event: the notifier reads it (repeat_every, a
  // recovery, a dead-man period's start). One step per job: a job's notifications are few.
  std::function<void(const std::string& job, std::optional<int64_t> before, int keep)> prune_notifications_of;
};

// Rows deleted per step: a few milliseconds of the store's thread.
inline constexpr int kPruneStepRows = 1000;

// Deletes the runs finished before `retention.keep_days` and, per job, the finished ones
// beyond its newest `retention.keep_per_job` (a run still going is kept, and counted); then the
// notifications past the same limits. Returns how many runs it deleted. Exceptions of the
// steps pass through.
int64_t prune_history(const Retention& retention, int64_t now, const HistoryPruneSteps& steps);

}  // namespace cronhost::store
