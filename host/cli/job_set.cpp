#include "cli/job_set.hpp"

#include <iostream>

namespace cronhost::cli {

std::optional<HostContext> load_host_context(const CommonOptions& options, config::Diagnostics& diagnostics) {
  HostContext context;
  std::filesystem::path config_path = options.config_path;
  std::error_code ec;
  if (config_path.empty() && std::filesystem::exists("cronhost.yaml", ec)) config_path = "cronhost.yaml";
  if (!config_path.empty()) {
    auto config = config::load_host_config(config_path, diagnostics);
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
