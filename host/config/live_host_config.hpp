// The host config a running host uses now: an immutable snapshot, swapped whole on SIGHUP.
// A run takes the snapshot once when it starts and holds it to its end, so a reload never
// changes the SMTP relay or a database under a running job, and never frees what it reads.
// Thread-safe.
#pragma once
#include <memory>
#include <mutex>

#include "config/host_config.hpp"

namespace cronhost::config {

class LiveHostConfig {
 public:
  explicit LiveHostConfig(std::shared_ptr<const HostConfig> first) : current_(std::move(first)) {}

  std::shared_ptr<const HostConfig> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void replace(std::shared_ptr<const HostConfig> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const HostConfig> current_;  // never null
};

}  // namespace cronhost::config
