// The notifier: turns what the scheduler reports (runs ended, slots missed or started late)
// and what its own timer finds (no success within a period) into notifications, decides
// whether repeat_every holds each back, records it in the state store (so a restart or
// another host sharing the store sends it once) and hands it to its channels: mail through
// the outbox, webhooks through the webhook outbox (notify::queue_webhook), and jobs fired
// with the event. Thread-safe: workers and the loop call it; start() runs the dead-man timer
// on a thread of its own, stop() ends it. Never called under the scheduler's lock.
#pragma once
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/live_host_config.hpp"
#include "notify/event_document.hpp"
#include "store/state_store.hpp"
#include "util/clock.hpp"

namespace cronhost::dispatch {
class RunMetrics;
}

namespace cronhost::notify {

using JobList = std::vector<std::shared_ptr<const config::JobSpec>>;

struct NotifierOptions {
  const config::LiveHostConfig* host = nullptr;  // the default notify: block, smtp, public_url
  dispatch::RunMetrics* metrics = nullptr;       // counts missed slots; null: not counted
  const Clock* clock = nullptr;                  // null: the system clock
  // Fires `job` with `event` ({name: notify.EVENT, payload: document}); false: no such job.
  std::function<bool(const std::string& job, const nlohmann::json& event)> fire_job;
  // The jobs the dead-man timer looks at (the scheduler's).
  std::function<JobList()> jobs;
};

class Notifier {
 public:
  Notifier(store::Store& store, NotifierOptions options);
  ~Notifier() { stop(); }

  void start();  // the dead-man timer
  void stop();

  // A run ended and its outcome is recorded (retry_pending: a retry follows).
  void run_finished(const config::JobSpec& spec, const RunFacts& run);
  // Slots that will not run (the host was down and catch-up dropped them), seen at `now`.
  void slots_dropped(const config::JobSpec& spec, const std::vector<int64_t>& slots, int64_t now);
  // A slot's run started at `started` though it was due at `due`: missed if past the grace.
  void slot_started(const config::JobSpec& spec, int64_t slot, int64_t due, int64_t started, int64_t run_id);
  // One pass of the dead-man check over every job (the timer's; tests call it too).
  void check_no_success(int64_t now);

  // What a dry run shows for a run's outcome: the notification it would make, if any, as
  // {event, suppressed, channels: [{channel, to | url, format, headers | job}], document},
  // with secrets (a URL, header values from ${env:}/${file:}) shown as ***; nothing recorded
  // or sent. Null: no notification.
  nlohmann::json preview(const config::JobSpec& spec, const RunFacts& run);

  // What applies to `spec` under the host's default block.
  NotifyPlan plan_for(const config::JobSpec& spec) const;
  // The job's history before run `before_id` (0: all), leaving out the attempts of
  // `own_chain` (a run's first attempt's id: its own retries are not failures before it).
  History history(const std::string& job, int64_t before_id, std::optional<int64_t> own_chain = std::nullopt);

 private:
  void loop();
  // Records the event once (by `dedup_key`) and sends it unless repeat_every holds it back.
  void decide(const config::JobSpec& spec, const NotifyPlan& plan, const EventFacts& facts, const std::string& dedup_key);
  bool held_back(const std::string& job, EventKind kind, const NotifyPlan& plan, int64_t now);
  std::vector<std::string> deliver(const config::JobSpec& spec, const NotifyPlan& plan, const nlohmann::json& document,
                                   std::optional<int64_t> run_id, int64_t now);
  void missed(const config::JobSpec& spec, const NotifyPlan& plan, int64_t slot, int64_t now,
              std::optional<int64_t> late_ms, const History& past);

  store::Store& store_;
  const NotifierOptions options_;
  const Clock& clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                     // guarded by mutex_
  std::map<std::string, int64_t> first_seen_;  // guarded by mutex_: when the timer first saw each job
  // Guarded by mutex_: whether each job's last outcome was a success. Hashed: looked up on
  // every run's end.
  std::unordered_map<std::string, bool> last_ok_;
  std::thread thread_;
};

}  // namespace cronhost::notify
