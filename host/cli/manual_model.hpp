// The command line as data, read from the CLI11 App: what the man page cronhost(1) and the
// shell completions are generated from, so neither can drift from the parser. Plain values,
// built once per `cronhost manual` call; not thread-safe (nothing here is shared).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace cronhost::cli::manual {

// What a shell should offer for an option's value or a positional argument.
enum class ValueKind { kNone, kJob, kZone, kFile, kFolder };

struct OptionInfo {
  std::vector<std::string> names;  // "--state", "-n"; empty for a positional
  std::string positional;          // "job", "PATH"; empty for a named option
  std::string value_name;          // "TEXT", "INT"; empty for a flag
  std::string description;
  bool required = false;
  bool repeatable = false;
  ValueKind kind = ValueKind::kNone;
};

struct CommandInfo {
  std::string path;  // "" for cronhost itself, "list", "approvals approve"
  std::string name;
  std::string description;
  std::string footer;
  std::vector<OptionInfo> options;      // named options and flags, --help included
  std::vector<OptionInfo> positionals;  // in order
  std::vector<CommandInfo> commands;    // subcommands (hidden ones left out)
};

// The visible command tree under `app`.
CommandInfo describe(const CLI::App& app, const std::string& path = "");

// cronhost(1) in roff.
std::string cli_page(const CommandInfo& root, const std::string& version);
// The completion scripts.
std::string bash_completion(const CommandInfo& root);
std::string zsh_completion(const CommandInfo& root);

// Text for roff: backslashes escaped, non-ASCII as \[uXXXX], a leading '.' or '\'' guarded.
std::string roff_text(const std::string& text);
// A paragraph of Markdown (README's subset: `code`, **bold**, *italic*, [text](link)) as roff.
std::string roff_inline(const std::string& markdown);

}  // namespace cronhost::cli::manual
