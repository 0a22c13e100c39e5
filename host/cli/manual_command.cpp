// cronhost manual PAGE: writes a manual page or a completion script to stdout, generated from
// the definitions that already hold each (the CLI11 App, the compiled-in schemas, README.md,
// the LuaLS meta file), so nothing is kept twice. Hidden: the build runs it (cmake/manuals.cmake).
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/manual_model.hpp"
#include "cli/manual_pages.hpp"

namespace cronhost::cli {

Command add_manual_command(CLI::App& app) {
  struct Options {
    std::string page;
    std::string source = ".";
    std::string output;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("manual", "Write a manual page or a completion script to stdout");
  cmd->group("");  // hidden from --help, the man page and the completions
  cmd->add_option("page", o->page, "cronhost.1, cronhost.yaml.5, cronhost-jobs.5, cronhost-lua.7, bash or zsh")
      ->required()
      ->check(CLI::IsMember({"cronhost.1", "cronhost.yaml.5", "cronhost-jobs.5", "cronhost-lua.7", "bash", "zsh"}));
  cmd->add_option("--source", o->source, "The source tree (README.md, schemas/lua/cronhost.lua); default .");
  cmd->add_option("-o,--output", o->output, "Write to this file (through a temporary file renamed into place)");
  return [o, &app]() {
    const std::string version = CRONHOST_VERSION;
    const std::filesystem::path source = o->source;
    Result<std::string> text = std::string();
    if (o->page == "cronhost.1") text = manual::cli_page(manual::describe(app), version);
    else if (o->page == "bash") text = manual::bash_completion(manual::describe(app));
    else if (o->page == "zsh") text = manual::zsh_completion(manual::describe(app));
    else if (o->page == "cronhost.yaml.5") text = manual::config_page(version);
    else if (o->page == "cronhost-jobs.5") text = manual::jobs_page(version, source / "README.md");
    else text = manual::lua_page(version, source / "schemas" / "lua" / "cronhost.lua");
    if (!text) {
      std::cerr << "cronhost: error: manual " << o->page << ": " << text.message() << "\n";
      return kExitUsage;
    }
    if (o->output.empty()) {
      std::cout << *text;
      return kExitOk;
    }
    // Renamed into place: an interrupted build leaves no half page that looks current.
    const std::string temporary = o->output + ".tmp";
    std::ofstream(temporary, std::ios::binary) << *text;
    std::error_code ec;
    std::filesystem::rename(temporary, o->output, ec);
    if (ec) {
      std::cerr << "cronhost: error: manual: cannot write " << o->output << ": " << ec.message() << "\n";
      return kExitUsage;
    }
    return kExitOk;
  };
}

}  // namespace cronhost::cli
