// The bash and zsh completion scripts, written from the command tree (manual_model.hpp).
// Both shells run the same logic: find the command path among the words typed so far, then
// offer the value an option takes (job names from `cronhost list --names`, zones from the
// tz database, files, folders), else options, else subcommands or the positional's values.
#include <algorithm>
#include <sstream>

#include "cli/manual_model.hpp"

namespace cronhost::cli::manual {

namespace {

void collect(const CommandInfo& c, std::vector<const CommandInfo*>& all) {
  all.push_back(&c);
  for (const auto& sub : c.commands) collect(sub, all);
}

const char* kind_word(ValueKind kind) {
  switch (kind) {
    case ValueKind::kJob: return "job";
    case ValueKind::kZone: return "zone";
    case ValueKind::kFile: return "file";
    case ValueKind::kFolder: return "folder";
    case ValueKind::kNone: break;
  }
  return "none";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

struct Table {
  std::string path;
  std::vector<std::string> options;  // every name
  std::vector<std::pair<std::string, std::string>> valued;  // option name -> value kind
  std::vector<std::string> commands;
  std::string positional_kind = "none";
};

// The root's options (--jobs, --config) are accepted after any command (fallthrough).
std::vector<Table> tables(const CommandInfo& root) {
  std::vector<const CommandInfo*> all;
  collect(root, all);
  std::vector<Table> out;
  for (const CommandInfo* c : all) {
    Table t{c->path};
    auto add = [&](const std::vector<OptionInfo>& options) {
      for (const auto& o : options)
        for (const auto& n : o.names) {
          if (std::find(t.options.begin(), t.options.end(), n) != t.options.end()) continue;
          t.options.push_back(n);
          if (!o.value_name.empty()) t.valued.emplace_back(n, kind_word(o.kind));
        }
    };
    add(c->options);
    if (c != &root)
      for (const auto& o : root.options)
        if (o.names.back() == "--jobs" || o.names.back() == "--config") add({o});
    for (const auto& sub : c->commands) t.commands.push_back(sub.name);
    if (!c->positionals.empty()) t.positional_kind = kind_word(c->positionals.front().kind);
    out.push_back(std::move(t));
  }
  return out;
}

// One `case` over command paths; `body` writes each arm's assignments.
template <typename Body>
void case_table(std::ostringstream& out, const std::vector<Table>& all, Body body) {
  out << "  case \"$cmd_path\" in\n";
  for (const auto& t : all) {
    out << "    \"" << t.path << "\")";
    body(t);
    out << " ;;\n";
  }
  out << "  esac\n";
}

std::string valued_case(const Table& t) {
  std::string arms;
  for (const auto& [name, kind] : t.valued) arms += name + ") echo " + kind + ";; ";
  return arms;
}

// Shared shell code (bash and zsh both run it): the command path and the --jobs/--config
// words typed so far, then what the word being completed is.
void common_functions(std::ostringstream& out, const std::vector<Table>& all) {
  out << "# The kind of value OPTION takes in command PATH (none, job, zone, file, folder), or\n"
         "# nothing when it takes none.\n"
         "_cronhost_value_kind() {\n  local cmd_path=$1\n";
  case_table(out, all, [&](const Table& t) { out << " case \"$2\" in " << valued_case(t) << "esac"; });
  out << "}\n\n"
         "_cronhost_subcommands() {\n  local cmd_path=$1\n";
  case_table(out, all, [&](const Table& t) { out << " echo \"" << joined(t.commands) << "\""; });
  out << "}\n\n"
         "_cronhost_options() {\n  local cmd_path=$1\n";
  case_table(out, all, [&](const Table& t) { out << " echo \"" << joined(t.options) << "\""; });
  out << "}\n\n"
         "_cronhost_positional_kind() {\n  local cmd_path=$1\n";
  case_table(out, all, [&](const Table& t) { out << " echo " << t.positional_kind; });
  out << "}\n\n"
         "# Job names from the jobs folder, as `cronhost list --names` finds them with the\n"
         "# --jobs/--config given on the line.\n"
         "_cronhost_job_names() {\n"
         "  \"$_cronhost_program\" \"${_cronhost_where[@]}\" list --names 2>/dev/null\n"
         "}\n\n"
         "# Zones of the tz database (tzdata's zone1970.tab), and UTC.\n"
         "_cronhost_zone_names() {\n"
         "  local tab=${CRONHOST_ZONEINFO:-/usr/share/zoneinfo}/zone1970.tab\n"
         "  echo UTC\n"
         "  [ -r \"$tab\" ] && while read -r code coordinates zone rest; do\n"
         "    case $code in ''|'#'*) ;; *) echo \"$zone\" ;; esac\n"
         "  done < \"$tab\"\n"
         "}\n\n"
         "# Reads words 1..N-1 (the array named by $1 from index $2, N = $3): sets\n"
         "# _cronhost_path (\"approvals list\"), _cronhost_where (--jobs/--config and their values)\n"
         "# and _cronhost_expect (the value kind the last word's option takes, if any).\n"
         "_cronhost_scan() {\n"
         "  local -a typed\n"
         "  typed=(\"$@\")\n"
         "  _cronhost_path='' _cronhost_expect='' _cronhost_where=() _cronhost_positionals=0\n"
         "  local word kind i=0 subs\n"
         "  while [ $i -lt ${#typed[@]} ]; do\n"
         "    word=${typed[$i]}\n"
         "    if [ -n \"$_cronhost_expect\" ]; then\n"
         "      case $_cronhost_expect_option in --jobs|--config) _cronhost_where+=(\"$_cronhost_expect_option\" \"$word\") ;; esac\n"
         "      _cronhost_expect=''\n"
         "    else\n"
         "      case $word in\n"
         "        --jobs=*|--config=*) _cronhost_where+=(\"$word\") ;;\n"
         "        -*) kind=$(_cronhost_value_kind \"$_cronhost_path\" \"$word\")\n"
         "            if [ -n \"$kind\" ]; then _cronhost_expect=$kind _cronhost_expect_option=$word; fi ;;\n"
         "        *) subs=\" $(_cronhost_subcommands \"$_cronhost_path\") \"\n"
         "           if [ \"$subs\" != \"  \" ] && [ \"${subs#* \"$word\" }\" != \"$subs\" ]; then\n"
         "             _cronhost_path=${_cronhost_path:+$_cronhost_path }$word\n"
         "           else\n"
         "             _cronhost_positionals=$((_cronhost_positionals + 1))\n"
         "           fi ;;\n"
         "      esac\n"
         "    fi\n"
         "    i=$((i + 1))\n"
         "  done\n"
         "}\n\n"
         "# The candidates for the word being completed, one per line, with the kind first:\n"
         "# `words LIST`, `file`, `folder`.\n"
         "_cronhost_candidates() {\n"
         "  local cur=$1 kind\n"
         "  if [ -n \"$_cronhost_expect\" ]; then kind=$_cronhost_expect\n"
         "  elif [ \"${cur#-}\" != \"$cur\" ]; then echo words; _cronhost_options \"$_cronhost_path\" | tr ' ' '\\n'; return\n"
         "  else\n"
         "    local subs\n"
         "    subs=$(_cronhost_subcommands \"$_cronhost_path\")\n"
         "    if [ -n \"$subs\" ]; then echo words; echo \"$subs\" | tr ' ' '\\n'; return; fi\n"
         "    kind=$(_cronhost_positional_kind \"$_cronhost_path\")\n"
         "    # Only the first positional is described (job, run id, PATH); later ones take files.\n"
         "    [ \"$_cronhost_positionals\" -gt 0 ] && [ \"$kind\" = job ] && kind=none\n"
         "  fi\n"
         "  case $kind in\n"
         "    job) echo words; _cronhost_job_names ;;\n"
         "    zone) echo words; _cronhost_zone_names ;;\n"
         "    file) echo file ;;\n"
         "    folder) echo folder ;;\n"
         "    *) echo words ;;\n"
         "  esac\n"
         "}\n\n";
}

}  // namespace

std::string bash_completion(const CommandInfo& root) {
  std::ostringstream out;
  out << "# bash completion for cronhost. Generated by `cronhost manual bash` from the command\n"
         "# line's own definitions: do not edit.\n\n";
  common_functions(out, tables(root));
  out << "_cronhost() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]}\n"
         "  _cronhost_program=${COMP_WORDS[0]}\n"
         "  _cronhost_scan \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"\n"
         "  local -a lines\n"
         "  mapfile -t lines < <(_cronhost_candidates \"$cur\")\n"
         "  COMPREPLY=()\n"
         "  case ${lines[0]} in\n"
         "    file) mapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); compopt -o filenames 2>/dev/null ;;\n"
         "    folder) mapfile -t COMPREPLY < <(compgen -d -- \"$cur\"); compopt -o filenames 2>/dev/null ;;\n"
         "    words) local word\n"
         "      for word in \"${lines[@]:1}\"; do\n"
         "        case $word in '') ;; \"$cur\"*) COMPREPLY+=(\"$word\") ;; esac\n"
         "      done ;;\n"
         "  esac\n"
         "}\n"
         "complete -F _cronhost cronhost\n";
  return out.str();
}

std::string zsh_completion(const CommandInfo& root) {
  std::ostringstream out;
  out << "#compdef cronhost\n"
         "# zsh completion for cronhost. Generated by `cronhost manual zsh` from the command\n"
         "# line's own definitions: do not edit.\n\n";
  common_functions(out, tables(root));
  out << "_cronhost() {\n"
         "  local cur=${words[CURRENT]}\n"
         "  local -a typed lines\n"
         "  typed=(\"${(@)words[2,CURRENT-1]}\")\n"
         "  _cronhost_program=${words[1]}\n"
         "  # The shared functions index arrays from 0, as bash does.\n"
         "  setopt local_options ksh_arrays\n"
         "  _cronhost_scan \"${typed[@]}\"\n"
         "  lines=(\"${(@f)$(_cronhost_candidates \"$cur\")}\")\n"
         "  case ${lines[0]} in\n"
         "    file) _files ;;\n"
         "    folder) _files -/ ;;\n"
         "    words) [ ${#lines[@]} -gt 1 ] && compadd -- \"${lines[@]:1}\" ;;\n"
         "  esac\n"
         "}\n\n"
         "# Loaded by compinit (autoload), the file's body is the function; sourced, it defines it.\n"
         "if [ \"${funcstack[1]}\" = _cronhost ]; then _cronhost \"$@\"; else compdef _cronhost cronhost; fi\n";
  return out.str();
}

}  // namespace cronhost::cli::manual
