// What the scheduler's loop reports on each pass, to whoever watches it (the service manager's
// watchdog, through util/service_notify.hpp): a loop that stops passing stops reporting.
// Implementations must be cheap and thread-safe: beat() is called on the loop thread with the
// scheduler's lock held.
#pragma once
#include <cstddef>

namespace cronhost::dispatch {

class LoopHeartbeat {
 public:
  virtual ~LoopHeartbeat() = default;
  // One pass of the loop (at least once a second): the jobs installed and the runs going.
  virtual void beat(size_t jobs, size_t running) = 0;
};

}  // namespace cronhost::dispatch
