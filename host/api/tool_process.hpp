// Runs one of a fixed set of host tools (pg_dump, mariadb-dump / mysqldump) for db.dump and
// streams what it prints into a file. Never a general exec: the program is one of DumpTool,
// found by absolute path in /usr/bin or /usr/lib/postgresql/15/bin, and the caller (the host,
// never a script) builds its argument list. The child gets an environment built from scratch,
// its own process group, no_new_privs, every descriptor but stdin/stdout/stderr closed, and
// dies with the thread that started it (PR_SET_PDEATHSIG). A password never goes in argv: it
// goes in the environment (PGPASSWORD) or in a 0600 option file in a private temp folder that
// is removed when the tool ends.
//
// Output goes through a TempFile in the destination folder (gzip on the fly if asked), synced
// and renamed into place only when the tool exits 0: a failed, stopped or killed tool leaves
// nothing. Plain functions: safe from any thread; the run waits in the calling thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/effects.hpp"
#include "util/status.hpp"

namespace cronhost::api {

enum class DumpTool { kPgDump, kMysqlDump };

// The tool's absolute path: pg_dump from /usr/lib/postgresql/15/bin, then /usr/bin;
// mariadb-dump, then mysqldump, from /usr/bin. An error names where it looked.
Result<std::filesystem::path> find_tool(DumpTool tool);

struct ToolCommand {
  DumpTool tool = DumpTool::kPgDump;
  std::vector<std::string> args;  // after argv[0]; never a secret
  std::vector<std::string> env;   // NAME=value, added to PATH, LANG, LC_ALL and TZ
  // MySQL: the text of an option file, written 0600 into a private temp folder and given as
  // the first argument, --defaults-extra-file=PATH. Empty: none.
  std::string option_file;
  std::vector<std::string> secrets;  // cut from stderr on top of the run's redactor
};

// What the output passes through before it is written, plain text only (the tool's bytes,
// before gzip): db_dump counts CREATE TABLE lines with it.
using OutputObserver = std::function<void(std::string_view chunk)>;

struct ToolLimits {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled = [] { return false; };
  const Redactor* redactor = nullptr;
  // How long a stopped tool has between SIGTERM and SIGKILL (pg_dump ends its server
  // session on SIGTERM within milliseconds).
  std::chrono::milliseconds term_grace{2000};
};

struct ToolOutput {
  uintmax_t bytes = 0;         // of the file written
  uintmax_t source_bytes = 0;  // the tool printed
  std::chrono::milliseconds duration{0};
};

// The last 4 KiB of the tool's stderr are kept, redacted, for the error message.
constexpr size_t kStderrKept = 4096;

// Runs `command` and writes what it prints to `dest_name` in `dest_folder` (gzip when
// `gzip`). Success: the tool exited 0 and the file is in place. Failure: the error is
// "stopped" when the deadline passed or the run was cancelled (the caller says which), or
// names the tool, its exit status or signal and its stderr's tail. Nothing is left of the
// output on failure.
Result<ToolOutput> run_tool(const ToolCommand& command, int dest_folder, const std::string& dest_name, bool gzip,
                            const ToolLimits& limits, const OutputObserver& observe = {});

// The command line as text, each argument shell-quoted (for a dry run's capture). It holds
// no secrets because arguments never do.
std::string command_line(const std::filesystem::path& program, const std::vector<std::string>& args);

}  // namespace cronhost::api
