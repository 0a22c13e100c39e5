// cronhost: the command line. Wires the subcommands; each lives in host/cli/.
#include <CLI/CLI.hpp>
#include <map>

#include "cli/build_info.hpp"
#include "cli/commands.hpp"

int main(int argc, char** argv) {
  using namespace cronhost::cli;
  CLI::App app{"cronhost: runs jobs from jobs.d/ on cron schedules, intervals, one-shot times and events"};
  app.set_version_flag("--version", version_line());
  app.require_subcommand(1);
  app.fallthrough();  // --jobs and --config may come after the subcommand too
  CommonOptions common;
  app.add_option("--jobs", common.jobs_dir, "Jobs folder (default: from the config, else ./jobs.d)");
  app.add_option("--config", common.config_path, "Host config (default: ./cronhost.yaml if present)");
  app.add_flag("--service", common.service,
               "Service defaults: config /etc/cronhost/cronhost.yaml, jobs /etc/cronhost/jobs.d, state "
               "/var/lib/cronhost/state.db ($CONFIGURATION_DIRECTORY, $STATE_DIRECTORY when systemd sets them)")
      ->envname("CRONHOST_SERVICE");

  const Command remote = add_remote_commands(app);  // trigger, enable, disable
  const std::map<std::string, Command> commands = {
      {"validate", add_validate_command(app, common)},
      {"list", add_list_command(app, common)},
      {"next", add_next_command(app, common)},
      {"run", add_run_command(app, common)},
      {"dry-run", add_dry_run_command(app, common)},
      {"history", add_history_command(app, common)},
      {"show", add_show_command(app, common)},
      {"approvals", add_approvals_command(app, common)},
      {"plugin", add_plugin_command(app, common)},
      {"webhooks", add_webhooks_command(app, common)},
      {"migrate-state", add_migrate_state_command(app)},
      {"trigger", remote},
      {"enable", remote},
      {"disable", remote},
      {"manual", add_manual_command(app)},
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return commands.at(app.get_subcommands().front()->get_name())();
}
