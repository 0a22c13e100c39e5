// The host binary (libexec/cronhost/cronhost): the daemon and every command. Wires the
// subcommands; each lives in host/cli/. bin/cronhost (main.cpp) execs it.
#include <CLI/CLI.hpp>
#include <map>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  using namespace cronhost::cli;
  CLI::App app{kAppDescription};
  CommonOptions common;
  common.users = cronhost::config::user_ids;
  add_root_options(app, common);

  const Command remote = add_remote_commands(app);  // trigger, enable, disable
  const std::map<std::string, Command> commands = {
      {"validate", add_validate_command(app, common)},
      {"list", add_list_command(app, common)},
      {"next", add_next_command(app, common, find_job_schedule)},
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
