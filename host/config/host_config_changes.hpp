// What a reload of the host config changes, by the keys of cronhost.yaml: the settings a
// running host takes at once, and the ones that wait for a restart. Pure; thread-safe.
#pragma once
#include <string>
#include <vector>

#include "config/host_config.hpp"

namespace cronhost::config {

struct HostConfigChanges {
  std::vector<std::string> applied;       // e.g. "smtp", "databases", "server.tokens"
  std::vector<std::string> need_restart;  // e.g. "workers", "server.listen"
};

// The keys whose values differ between `running` and `next`, each in one of the two lists.
HostConfigChanges compare_host_configs(const HostConfig& running, const HostConfig& next);

}  // namespace cronhost::config
