#include "util/service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <ctime>

namespace cronhost {
namespace {

uint64_t monotonic_usec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return uint64_t(now.tv_sec) * 1'000'000 + uint64_t(now.tv_nsec) / 1000;
}

}  // namespace

std::string service_status_text(size_t jobs, size_t running) {
  return std::to_string(jobs) + (jobs == 1 ? " job, " : " jobs, ") + std::to_string(running) + " running";
}

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket && *socket;
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_PID is unset or names this process: a child the host started
  // never feeds its parent's watchdog.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
}

void ServiceNotifier::send(const std::string& message) {
  if (enabled_) sd_notify(0, message.c_str());  // a failure (systemd gone) changes nothing here
}

void ServiceNotifier::send_status_locked(size_t jobs, size_t running, uint64_t now_usec) {
  jobs_ = jobs;
  running_ = running;
  last_status_usec_ = now_usec;
  send("STATUS=" + service_status_text(jobs, running));
}

void ServiceNotifier::ready(size_t jobs) {
  std::lock_guard lock(mutex_);
  ready_ = true;
  jobs_ = jobs;
  last_status_usec_ = monotonic_usec();
  last_watchdog_usec_ = last_status_usec_;
  send("READY=1\nSTATUS=" + service_status_text(jobs, running_) + (watchdog_usec_ ? "\nWATCHDOG=1" : ""));
}

void ServiceNotifier::reloading() {
  std::lock_guard lock(mutex_);
  // systemd 253+ (Type=notify-reload) wants the time the reload began; 252 ignores it.
  send("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
}

void ServiceNotifier::reloaded(size_t jobs) {
  std::lock_guard lock(mutex_);
  jobs_ = jobs;
  last_status_usec_ = monotonic_usec();
  send("READY=1\nSTATUS=" + service_status_text(jobs, running_));
}

void ServiceNotifier::stopping(size_t running) {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  send("STOPPING=1\nSTATUS=stopping: " + std::to_string(running) + " running");
}

void ServiceNotifier::beat(size_t jobs, size_t running) {
  if (!enabled_) return;
  const uint64_t now = monotonic_usec();
  std::lock_guard lock(mutex_);
  if (!ready_) return;  // systemd's watchdog starts with READY=1; start-up has TimeoutStartSec
  if (watchdog_usec_ && now - last_watchdog_usec_ >= watchdog_usec_ / 2) {
    last_watchdog_usec_ = now;
    send("WATCHDOG=1");
  }
  if (!stopping_ && (jobs != jobs_ || running != running_) && now - last_status_usec_ >= kStatusEveryMs * 1000)
    send_status_locked(jobs, running, now);
}

}  // namespace cronhost
