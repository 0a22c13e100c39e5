// Hands host events (approval.approved, ...) written to the state file - by this process or
// by the command line while the daemon runs - to the scheduler, oldest first, each once.
// Events written while no daemon ran are delivered at the next start. One thread.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dispatch/scheduler.hpp"
#include "store/state_store.hpp"

namespace cronhost::dispatch {

class EventPump {
 public:
  EventPump(store::Store& store, Scheduler& scheduler) : store_(store), scheduler_(scheduler) {}
  ~EventPump() { stop(); }

  void start();
  void stop();

 private:
  void loop();

  store::Store& store_;
  Scheduler& scheduler_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace cronhost::dispatch
