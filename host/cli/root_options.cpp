#include "cli/build_info.hpp"
#include "cli/commands.hpp"

namespace cronhost::cli {

void add_root_options(CLI::App& app, CommonOptions& common) {
  app.set_version_flag("--version", version_line());
  app.require_subcommand(1);
  app.fallthrough();  // --jobs and --config may come after the subcommand too
  app.add_option("--jobs", common.jobs_dir, "Jobs folder (default: from the config, else ./jobs.d)");
  app.add_option("--config", common.config_path, "Host config (default: ./cronhost.yaml if present)");
  app.add_flag("--service", common.service,
               "Service defaults: config /etc/cronhost/cronhost.yaml, jobs /etc/cronhost/jobs.d, state "
               "/var/lib/cronhost/state.db ($CONFIGURATION_DIRECTORY, $STATE_DIRECTORY when systemd sets them)")
      ->envname("CRONHOST_SERVICE");
}

}  // namespace cronhost::cli
