// bin/cronhost, the command operators type. `cronhost next --expr` and `cronhost --version` are
// answered here by a static binary that links only the schedule and host-config code; every
// other command execs the host binary (libexec/cronhost/cronhost, host_main.cpp) with the same
// arguments. Why: the host binary loads ~50 shared objects (libcurl, libpq, libmariadb and what
// they pull in), ~25 ms before main, several times what printing five fire times takes.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/host_exec.hpp"

int main(int argc, char** argv) {
  using namespace cronhost::cli;
  if (!front_answers(argc, argv)) return exec_host_binary(argv);
  CLI::App app{kAppDescription};
  CommonOptions common;
  add_root_options(app, common);
  const Command next = add_next_command(app, common);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return next();
}
