#include "cli/job_set.hpp"

#include <cstdlib>
#include <iostream>

namespace cronhost::cli {
namespace {

// The first folder of a systemd *_DIRECTORY variable (it lists several with ':'), else `fallback`.
std::filesystem::path systemd_directory(const char* variable, const char* fallback) {
  const char* value = std::getenv(variable);
  if (!value || !*value) return fallback;
  const std::string text = value;
  return text.substr(0, text.find(':'));
}

}  // namespace

ServicePaths service_paths() {
  const auto config_dir = systemd_directory("CONFIGURATION_DIRECTORY", "/etc/cronhost");
  return {config_dir / "cronhost.yaml", config_dir / "jobs.d",
          systemd_directory("STATE_DIRECTORY", "/var/lib/cronhost") / "state.db"};
}

std::optional<HostContext> load_host_context(const CommonOptions& options, config::Diagnostics& diagnostics) {
  HostContext context;
  std::filesystem::path config_path = options.config_path;
  std::error_code ec;
  // A service's paths are defaults: --config, --jobs and the config's jobs: and state: win.
  std::filesystem::path default_config = "cronhost.yaml";
  if (options.service) {
    const ServicePaths service = service_paths();
    default_config = service.config;
    context.config.jobs_dir = service.jobs;
    context.config.state_file = service.state;
  }
  if (config_path.empty() && std::filesystem::exists(default_config, ec)) config_path = default_config;
  if (!config_path.empty()) {
    auto config = config::load_host_config(config_path, diagnostics, context.config, options.users);
    if (!config) return std::nullopt;
    context.config = std::move(*config);
  }
  context.jobs_dir = options.jobs_dir.empty() ? context.config.jobs_dir : std::filesystem::path(options.jobs_dir);
  context.load_options.default_zone = context.config.timezone;
  return context;
}

void print_diagnostics(const config::Diagnostics& diagnostics) {
  for (const auto& d : diagnostics) std::cerr << d.format() << "\n";
}

}  // namespace cronhost::cli
