// Hands host events (approval.approved, ...) written to the state - by this process, by the
// command line, or by another host sharing it - to the scheduler, oldest first. An event is
// delivered when its runs are recorded: their claim marks it, in the same transaction (an
// event no job listens for is marked here). One that is fired but still not delivered
// `refire_after` later (the host's claim failed, or it is still waiting) is fired again; a job
// runs once per event however often it is fired (runs_event_once). So an event is neither lost
// to a crash or a failed write nor run twice by hosts that both see it. Events written while no
// daemon ran are delivered at the next start. One thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "dispatch/scheduler.hpp"
#include "store/state_store.hpp"

namespace cronhost::dispatch {

class EventPump {
 public:
  EventPump(store::EventStore& store, Scheduler& scheduler,
            std::chrono::milliseconds refire_after = std::chrono::seconds(10))
      : store_(store), scheduler_(scheduler), refire_after_(refire_after) {}
  ~EventPump() { stop(); }

  void start();
  void stop();

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  void loop();
  // Fires the event's jobs; false once the scheduler is stopping.
  bool fire(const store::Event& event, bool again);
  // Fires again the events fired at least refire_after ago and still not delivered.
  void fire_undelivered_again();

  store::EventStore& store_;
  Scheduler& scheduler_;
  const std::chrono::milliseconds refire_after_;
  std::map<int64_t, SteadyTime> fired_;  // the thread only: event id -> when to look at it again
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace cronhost::dispatch
