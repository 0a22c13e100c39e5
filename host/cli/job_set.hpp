// What every subcommand starts from: the host config (if any) and the jobs it points at.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/host_config.hpp"
#include "config/job_loader.hpp"

namespace cronhost::cli {

// Exit codes shared by all subcommands.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // a job or check failed
constexpr int kExitUsage = 2;   // usage or validation error

// The options every subcommand shares.
struct CommonOptions {
  std::string jobs_dir;     // --jobs; empty: from the config, else ./jobs.d
  std::string config_path;  // --config; empty: ./cronhost.yaml if present
  bool service = false;     // --service or CRONHOST_SERVICE=1: the defaults below come from ServicePaths
  // How the config's run_as: names a user: the host binary's looks it up (config::user_ids);
  // bin/cronhost has none, as it is static and must not reach NSS (config/user_ids.hpp). With
  // none the name is kept, and a runner given it refuses to run.
  config::UserLookup users = nullptr;
};

// Where a service (systemd) keeps things when neither the command line nor the config says:
// the folders systemd names ($CONFIGURATION_DIRECTORY, $STATE_DIRECTORY; the first when it
// lists several), else /etc/cronhost and /var/lib/cronhost.
struct ServicePaths {
  std::filesystem::path config;  // <config dir>/cronhost.yaml
  std::filesystem::path jobs;    // <config dir>/jobs.d
  std::filesystem::path state;   // <state dir>/state.db
};
ServicePaths service_paths();

struct HostContext {
  config::HostConfig config;
  std::filesystem::path jobs_dir;
  config::LoadOptions load_options;
};

// Reads the host config; problems go to `diagnostics` (nothing returned on error).
std::optional<HostContext> load_host_context(const CommonOptions& options, config::Diagnostics& diagnostics);

// Prints diagnostics compiler-style to stderr.
void print_diagnostics(const config::Diagnostics& diagnostics);

}  // namespace cronhost::cli
