// cronhost migrate-state FROM TO: copies a stopped host's SQLite state file into an empty
// PostgreSQL state database (store/state_copy.hpp) and prints each table's row count and the
// time taken. The password comes from --password-file or PGPASSWORD, never from the command
// line, which every user of the machine can read (ps).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "store/state_copy.hpp"

namespace cronhost::cli {
namespace {

// Why `url` is not a PostgreSQL URL this command takes; empty if it is. Never repeats a URL
// that holds a password.
std::string url_problem(const std::string& url) {
  const bool postgres = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!postgres) return "TO " + url + ": expected a PostgreSQL URL, postgresql://USER@HOST:PORT/DATABASE";
  const size_t authority = url.find("://") + 3;
  const std::string userinfo = url.substr(authority, url.find_first_of("/?", authority) - authority);
  const size_t at = userinfo.rfind('@');
  const bool password_in_url = (at != std::string::npos && userinfo.substr(0, at).find(':') != std::string::npos) ||
                               url.find("password=") != std::string::npos;
  if (password_in_url)
    return "the TO URL holds a password, which the command line shows to every user of the machine: "
           "give it with --password-file FILE or PGPASSWORD instead";
  return "";
}

// The password: the file's content without one trailing newline, else PGPASSWORD, else none.
Result<std::string> read_password(const std::string& file) {
  if (file.empty()) {
    const char* env = std::getenv("PGPASSWORD");
    return std::string(env ? env : "");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Result<std::string>::error("--password-file " + file + ": cannot read the file");
  std::stringstream content;
  content << in.rdbuf();
  std::string password = content.str();
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

}  // namespace

Command add_migrate_state_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("migrate-state", "Copy a stopped host's SQLite state file into an empty PostgreSQL state database");
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto password_file = std::make_shared<std::string>();
  cmd->add_option("FROM", *from, "The SQLite state file (no host may be running on it)")->required();
  cmd->add_option("TO", *to, "postgresql://USER@HOST:PORT/DATABASE (its state tables must be empty)")->required();
  cmd->add_option("--password-file", *password_file, "File holding the database password (default: PGPASSWORD)");
  return [=]() -> int {
    if (auto problem = url_problem(*to); !problem.empty()) {
      std::cerr << "cronhost: error: " << problem << "\n";
      return kExitUsage;
    }
    auto password = read_password(*password_file);
    if (!password) {
      std::cerr << "cronhost: error: " << password.message() << "\n";
      return kExitUsage;
    }
    auto report = store::copy_state(*from, store::PgTarget{*to, password.value()});
    if (!report) {
      std::cerr << "cronhost: error: " << report.message() << "\n";
      return kExitFailed;
    }
    int64_t total = 0;
    std::printf("%-16s %10s\n", "TABLE", "ROWS");
    for (const auto& table : report->tables) {
      std::printf("%-16s %10lld\n", table.table.c_str(), static_cast<long long>(table.rows));
      total += table.rows;
    }
    std::printf("copied %lld rows from %s to %s in %.2f s\n", static_cast<long long>(total), from->c_str(), to->c_str(),
                static_cast<double>(report->took.count()) / 1000.0);
    return kExitOk;
  };
}

}  // namespace cronhost::cli
