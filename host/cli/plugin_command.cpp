// cronhost plugin check PATH: loads a plugin in a sandboxed runner process, as the daemon
// would, and prints its name, version and ABI version, or why it cannot be loaded; then what
// isolates runs on this machine (Landlock, the thread cap) and which of those are missing.
#include <iostream>

#include "cli/commands.hpp"
#include "plugin/landlock.hpp"
#include "plugin/pids_cgroup.hpp"
#include "plugin/plugin_catalog.hpp"

namespace cronhost::cli {

Command add_plugin_command(CLI::App& app, const CommonOptions&) {
  auto* cmd = app.add_subcommand("plugin", "Native plugins");
  cmd->require_subcommand(1);
  auto* check = cmd->add_subcommand("check", "Load a plugin in a child process and print what it is");
  auto path = std::make_shared<std::string>();
  check->add_option("PATH", *path, "The plugin shared object (.so)")->required();
  return [check, path]() {
    if (!*check) return kExitUsage;
    auto runner = plugin::find_runner();
    if (!runner) {
      std::cerr << "cronhost: error: " << runner.message() << "\n";
      return kExitFailed;
    }
    auto info = plugin::check_plugin(runner.value(), std::filesystem::absolute(*path));
    if (!info) {
      std::cerr << *path << ": error: " << info.message() << "\n";
      return kExitFailed;
    }
    std::cout << info->name << " " << info->version << " (ABI " << plugin::abi_text(info->abi_version) << ")\n";
    if (!info->description.empty()) std::cout << info->description << "\n";
    // The walls its isolated runs get on this machine, and which are missing.
    std::cout << (plugin::landlock_abi() ? "" : "warning: ") << plugin::landlock_summary() << "\n";
    std::cout << (plugin::pids_cgroup_base() ? "" : "warning: ") << plugin::pids_cgroup_summary(plugin::kMaxRunTasks)
              << "\n";
    return kExitOk;
  };
}

}  // namespace cronhost::cli
