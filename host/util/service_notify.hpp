// Tells systemd (Type=notify) how the host is doing, through sd_notify(3): READY=1 once the
// jobs and the state are loaded, RELOADING=1/READY=1 around a SIGHUP reload, STOPPING=1,
// STATUS= with the jobs and the runs going, and WATCHDOG=1 from the scheduler's loop (a
// LoopHeartbeat), so a loop that wedges stops feeding the watchdog and systemd restarts the
// host. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
// Thread-safe: the loop thread beats while the signal thread reports reloads.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "dispatch/loop_heartbeat.hpp"

namespace cronhost {

class ServiceNotifier final : public dispatch::LoopHeartbeat {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (left in the environment: the host's
  // children get none of it, runner_spawn and tool_process pass locale and zone only).
  ServiceNotifier();

  bool enabled() const { return enabled_; }
  // systemd's WatchdogSec for this process, in microseconds; 0: no watchdog.
  uint64_t watchdog_usec() const { return watchdog_usec_; }

  void ready(size_t jobs);
  void reloading();
  void reloaded(size_t jobs);
  void stopping(size_t running);
  // After ready(): WATCHDOG=1 once half the watchdog interval has passed since the last (the
  // loop passes every second, so pings are at most half + 1 s apart), and STATUS= when the
  // counts changed (at most every kStatusEveryMs).
  void beat(size_t jobs, size_t running) override;

  // STATUS= is sent this often at most: a host starting runs every second would otherwise
  // send a message per run to PID 1.
  static constexpr int64_t kStatusEveryMs = 2000;

 private:
  void send(const std::string& message);  // the caller holds mutex_
  void send_status_locked(size_t jobs, size_t running, uint64_t now_usec);

  bool enabled_ = false;
  uint64_t watchdog_usec_ = 0;
  std::mutex mutex_;
  uint64_t last_watchdog_usec_ = 0;  // guarded by mutex_; CLOCK_MONOTONIC
  uint64_t last_status_usec_ = 0;    // guarded by mutex_
  size_t jobs_ = 0, running_ = 0;    // guarded by mutex_: what the last STATUS said
  bool ready_ = false;               // guarded by mutex_: nothing from the loop before READY=1
  bool stopping_ = false;            // guarded by mutex_: no STATUS after STOPPING
};

// "N jobs, M running": the STATUS= text, as systemctl status shows it.
std::string service_status_text(size_t jobs, size_t running);

}  // namespace cronhost
