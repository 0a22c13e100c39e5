// The command tree read from CLI11, roff escaping, and the cronhost(1) page.
#include "cli/manual_model.hpp"

#include <cstdio>
#include <sstream>

namespace cronhost::cli::manual {

namespace {

// Values a shell can list: the names say what they hold (job, --tz, --state, PATH, ...).
ValueKind kind_of(const std::string& name) {
  if (name == "job" || name == "--job") return ValueKind::kJob;
  if (name == "--tz") return ValueKind::kZone;
  if (name == "--jobs") return ValueKind::kFolder;
  if (name == "--config" || name == "--state" || name == "--password-file" || name == "--token-file" ||
      name == "paths" || name == "PATH" || name == "FROM")
    return ValueKind::kFile;
  return ValueKind::kNone;
}

OptionInfo option_info(const CLI::Option& option) {
  OptionInfo info;
  for (const auto& s : option.get_snames()) info.names.push_back("-" + s);
  for (const auto& l : option.get_lnames()) info.names.push_back("--" + l);
  if (!option.nonpositional()) info.positional = option.get_name();
  // A flag has no type name. CLI11 appends its checks ("INT:INT in [1 - 100000]"): the
  // description says the range.
  info.value_name = option.get_type_name().substr(0, option.get_type_name().find(':'));
  if (!option.nonpositional() && info.value_name.empty()) info.value_name = "VALUE";
  info.description = option.get_description();
  info.required = option.get_required();
  info.repeatable = option.get_expected_max() > 1;
  info.kind = kind_of(info.positional.empty() ? (info.names.empty() ? "" : info.names.back()) : info.positional);
  return info;
}

std::string option_synopsis(const OptionInfo& o) {
  std::string text;
  for (const auto& n : o.names) text += (text.empty() ? "" : ", ") + ("\\fB" + roff_text(n) + "\\fR");
  // Option names are typed as written: '-' as \- so they copy and search as ASCII.
  size_t at = 0;
  while ((at = text.find('-', at)) != std::string::npos) text.replace(at, 1, "\\-"), at += 2;
  if (!o.value_name.empty()) text += " \\fI" + roff_text(o.value_name) + "\\fR";
  return text;
}

void command_section(std::ostringstream& out, const CommandInfo& c) {
  std::string usage = "cronhost " + c.path;
  if (!c.options.empty()) usage += " [OPTIONS]";
  for (const auto& p : c.positionals) usage += p.required ? " " + p.positional : " [" + p.positional + "]";
  if (!c.commands.empty()) usage += " COMMAND";
  // The comment names the command path for tools (the tests) that read the page.
  out << ".\\\" command: " << c.path << "\n.SS \"" << roff_text(usage) << "\"\n" << roff_text(c.description) << "\n";
  for (const auto& p : c.positionals) {
    out << ".TP\n\\fI" << roff_text(p.positional) << "\\fR\n" << roff_text(p.description) << "\n";
  }
  for (const auto& o : c.options) {
    if (o.names.size() == 2 && o.names[1] == "--help") continue;  // every command has it; said once
    out << ".TP\n" << option_synopsis(o) << "\n" << roff_text(o.description)
        << (o.repeatable && o.description.find("repeatable") == std::string::npos ? " (repeatable)" : "")
        << "\n";
  }
  if (!c.footer.empty()) out << ".PP\n" << roff_text(c.footer) << "\n";
  for (const auto& sub : c.commands) command_section(out, sub);
}

}  // namespace

CommandInfo describe(const CLI::App& app, const std::string& path) {
  CommandInfo info;
  info.path = path;
  info.name = app.get_name();
  info.description = app.get_description();
  info.footer = app.get_footer();
  for (const CLI::Option* option : app.get_options()) {
    OptionInfo o = option_info(*option);
    (o.positional.empty() ? info.options : info.positionals).push_back(std::move(o));
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); }))
    info.commands.push_back(describe(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name()));
  return info;
}

std::string roff_text(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // UTF-8 to a code point, written as groff's \[uXXXX] so no input encoding is assumed.
      const int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
      unsigned code = c & (0x3F >> extra);
      for (int k = 0; k < extra && i + 1 < text.size(); ++k) code = (code << 6) | (text[++i] & 0x3F);
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "\\[u%04X]", code);
      out += buffer;
    }
  }
  return out;
}

std::string roff_inline(const std::string& markdown) {
  std::string out;
  for (size_t i = 0; i < markdown.size();) {
    const auto closing = [&](const std::string& mark) { return markdown.find(mark, i + mark.size()); };
    if (markdown[i] == '`') {
      const size_t end = closing("`");
      if (end != std::string::npos) {
        out += "\\fB" + roff_text(markdown.substr(i + 1, end - i - 1)) + "\\fR";
        i = end + 1;
        continue;
      }
    } else if (markdown.compare(i, 2, "**") == 0) {
      const size_t end = closing("**");
      if (end != std::string::npos) {
        out += "\\fB" + roff_inline(markdown.substr(i + 2, end - i - 2)) + "\\fR";
        i = end + 2;
        continue;
      }
    } else if (markdown[i] == '*' && i + 1 < markdown.size() && markdown[i + 1] != ' ') {
      const size_t end = closing("*");
      if (end != std::string::npos) {
        out += "\\fI" + roff_inline(markdown.substr(i + 1, end - i - 1)) + "\\fR";
        i = end + 1;
        continue;
      }
    } else if (markdown[i] == '[') {
      const size_t mid = markdown.find("](", i);
      const size_t end = mid == std::string::npos ? mid : markdown.find(')', mid);
      if (end != std::string::npos) {
        out += roff_inline(markdown.substr(i + 1, mid - i - 1));
        i = end + 1;
        continue;
      }
    }
    const size_t next = markdown.find_first_of("`*[", i + 1);
    out += roff_text(markdown.substr(i, next == std::string::npos ? std::string::npos : next - i));
    i = next == std::string::npos ? markdown.size() : next;
  }
  return out;
}

std::string cli_page(const CommandInfo& root, const std::string& version) {
  std::ostringstream out;
  out << ".\\\" Generated by `cronhost manual cronhost.1` from the command line's own definitions.\n"
      << ".TH CRONHOST 1 \"\" \"cronhost " << roff_text(version) << "\" \"User Commands\"\n"
      << ".SH NAME\ncronhost \\- " << roff_text(root.description.substr(root.description.find(": ") + 2)) << "\n"
      << ".SH SYNOPSIS\n.B cronhost\n";
  for (const auto& o : root.options)
    if (o.names.back() != "--help" && o.names.back() != "--version") out << "[" << option_synopsis(o) << "]\n";
  out << "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n.br\n.B cronhost \\-\\-version\n"
      << ".SH DESCRIPTION\n" << roff_text(root.description) << "\n"
      << ".PP\nJobs are YAML files in the jobs folder, described in \\fBcronhost-jobs\\fR(5); the host config in "
         "\\fBcronhost.yaml\\fR(5); the Lua API of job scripts in \\fBcronhost-lua\\fR(7).\n"
      << ".PP\nEach command takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR. The global options may come after the command too.\n"
      << ".SH GLOBAL OPTIONS\n";
  for (const auto& o : root.options) out << ".TP\n" << option_synopsis(o) << "\n" << roff_text(o.description) << "\n";
  out << ".SH COMMANDS\n";
  for (const auto& c : root.commands) command_section(out, c);
  out << ".SH EXIT STATUS\n0 on success; 1 when a job run failed; 2 for a usage or configuration error.\n"
      << ".SH FILES\n.TP\n\\fIcronhost.yaml\\fR\nThe host config: see \\fBcronhost.yaml\\fR(5).\n"
      << ".TP\n\\fIjobs.d/*.yaml\\fR\nOne job per file: see \\fBcronhost-jobs\\fR(5).\n"
      << ".SH SEE ALSO\n\\fBcronhost.yaml\\fR(5), \\fBcronhost-jobs\\fR(5), \\fBcronhost-lua\\fR(7)\n";
  return out.str();
}

}  // namespace cronhost::cli::manual
