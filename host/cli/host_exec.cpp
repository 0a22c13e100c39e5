#include "cli/host_exec.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "util/own_executable.hpp"

// Set by cmake/install.cmake on this file alone: the host binary's installed folder relative to
// bin/ (../libexec/cronhost). A plain default keeps other builds compiling.
#ifndef CRONHOST_LIBEXEC_FROM_BINDIR
#define CRONHOST_LIBEXEC_FROM_BINDIR "../libexec/cronhost"
#endif

namespace cronhost::cli {
namespace fs = std::filesystem;

namespace {

// `next --expr EXPR` is answered here; `next JOB` reads the jobs folder, the host binary's work.
// After "--" every word is a JOB, "--expr" too.
bool names_an_expression(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--expr" || arg.starts_with("--expr=")) return true;
  }
  return false;
}

}  // namespace

bool front_answers(int argc, char** argv) {
  bool version = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--jobs" || arg == "--config") {
      ++i;  // its value, which may be any word
    } else if (arg == "-h" || arg == "--help") {
      return false;  // the whole command list: the host's
    } else if (arg == "--version") {
      version = true;
    } else if (arg.empty() || arg[0] != '-') {
      return arg == "next" && names_an_expression(argc - i - 1, argv + i + 1);
    }
  }
  return version;
}

int exec_host_binary(char** argv) {
  const auto self = own_executable();
  if (!self) {
    std::cerr << "cronhost: error: cannot find the host binary: /proc/self/exe cannot be read\n";
    return 127;
  }
  // An install (bin/ -> ../libexec/cronhost), then the build folder (build/libexec/cronhost).
  const fs::path folder = self->parent_path();
  const fs::path candidates[] = {(folder / CRONHOST_LIBEXEC_FROM_BINDIR / "cronhost").lexically_normal(),
                                 folder / "libexec/cronhost/cronhost"};
  std::error_code ec;
  std::string looked;
  for (const fs::path& candidate : candidates) {
    if (fs::is_regular_file(candidate, ec)) {
      ::execv(candidate.c_str(), argv);
      const int error = errno;
      std::cerr << "cronhost: error: cannot start the host binary " << candidate.string() << ": "
                << std::strerror(error) << "\n";
      return 126;  // found but not runnable, as a shell says
    }
    looked += (looked.empty() ? "" : " and ") + candidate.string();
  }
  std::cerr << "cronhost: error: the host binary was not found: looked for " << looked
            << " (only `cronhost next --expr` and `cronhost --version` work without it)\n";
  return 127;
}

}  // namespace cronhost::cli
