#include "api/db_dump.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/db_sqlite.hpp"
#include "api/file_ops.hpp"
#include "api/mysql_url.hpp"
#include "api/permissions.hpp"
#include "api/tool_process.hpp"
#include "util/escape.hpp"

namespace cronhost::api {
namespace {

using Clock = std::chrono::steady_clock;
using R = DbResult<DumpOutcome>;

// Counts the tables of a plain dump as it streams by: lines that start a CREATE TABLE, but
// not inside PostgreSQL's COPY data (a row may begin with any text; mysqldump's INSERTs are
// one line each, so their data never starts one).
class TableCounter {
 public:
  void feed(std::string_view chunk) {
    for (char c : chunk) {
      if (c != '\n') {
        if (head_.size() < kHead) head_ += c;
        continue;
      }
      line_ended();
      head_.clear();
    }
  }
  int64_t tables() const { return tables_; }

 private:
  static constexpr size_t kHead = 32;  // enough of a line to tell what it starts
  void line_ended() {
    auto starts = [this](std::string_view prefix) { return std::string_view(head_).substr(0, prefix.size()) == prefix; };
    if (in_copy_) {
      in_copy_ = head_ != "\\.";
      return;
    }
    if (starts("COPY ")) in_copy_ = true;  // COPY t (...) FROM stdin; rows follow until \.
    else if (starts("CREATE TABLE ") || starts("CREATE UNLOGGED TABLE ")) ++tables_;
  }
  std::string head_;
  bool in_copy_ = false;
  int64_t tables_ = 0;
};

// A value in a MySQL option file: double-quoted, with \ and " escaped.
std::string option_value(const std::string& value) { return "\"" + backslash_escaped(value) + "\""; }

struct ToolPlan {
  ToolCommand command;
  std::string shown_args_prefix;  // what stands for the option file in a dry run's command line
};

Result<ToolPlan> postgres_plan(const config::DatabaseSettings& settings, const DumpOptions& options) {
  ToolPlan plan;
  auto& c = plan.command;
  c.tool = DumpTool::kPgDump;
  // The URL is a libpq conninfo as it is (postgresql://user@host:port/db?sslmode=...), and
  // holds no password: the config loader refuses one there.
  c.args = {options.format == DumpFormat::kCustom ? "--format=custom" : "--format=plain", "--no-password",
            "--dbname=" + settings.url};
  if (!settings.password.empty()) {
    c.env.push_back("PGPASSWORD=" + settings.password);
    c.secrets.push_back(settings.password);
  }
  // The URL's own sslmode, if it has one, wins over these (libpq reads the environment last).
  if (!settings.tls.mode.empty()) c.env.push_back("PGSSLMODE=" + settings.tls.mode);
  if (!settings.tls.ca.empty()) c.env.push_back("PGSSLROOTCERT=" + settings.tls.ca.string());
  const auto timeout_s = std::max<int64_t>(2, std::chrono::ceil<std::chrono::seconds>(settings.connect_timeout).count());
  c.env.push_back("PGCONNECT_TIMEOUT=" + std::to_string(timeout_s));
  c.env.push_back("PGAPPNAME=cronhost-dump");
  return plan;
}

Result<ToolPlan> mysql_plan(const config::DatabaseSettings& settings) {
  auto target = parse_mysql_url(settings.url);
  if (!target) return Result<ToolPlan>::error(target.message());
  if (target->database.empty() || target->database.find('/') != std::string::npos)
    return Result<ToolPlan>::error("the URL names no database (mysql://user@host:3306/DATABASE)");
  if (target->database.front() == '-') return Result<ToolPlan>::error("the database name starts with '-'");
  ToolPlan plan;
  auto& c = plan.command;
  c.tool = DumpTool::kMysqlDump;
  std::string file = "[client]\n";
  if (!target->user.empty()) file += "user=" + option_value(target->user) + "\n";
  if (!settings.password.empty()) {
    file += "password=" + option_value(settings.password) + "\n";
    c.secrets.push_back(settings.password);
  }
  if (!target->socket.empty()) {  // a local server, as the engine reaches it (?socket=PATH)
    file += "socket=" + option_value(target->socket) + "\nprotocol=SOCKET\n";
  } else {
    file += "host=" + option_value(target->host) + "\n";
    file += "port=" + std::to_string(target->port) + "\n";
    // TCP even for localhost, which the client would otherwise take as its unix socket.
    file += "protocol=TCP\n";
  }
  // mariadb-dump has no connect timeout option: the run's deadline stops a connect that hangs.
  // libpq's sslmode in MariaDB's client words (its 10.11 client has no ssl-mode).
  const std::string& mode = settings.tls.mode;
  if (mode == "disable") file += "skip-ssl\n";
  if (mode == "require" || mode == "verify-ca" || mode == "verify-full") file += "ssl\n";
  if (mode == "verify-ca" || mode == "verify-full") file += "ssl-verify-server-cert\n";
  if (!settings.tls.ca.empty()) file += "ssl-ca=" + option_value(settings.tls.ca.string()) + "\n";
  c.option_file = file;
  c.args = {"--single-transaction", "--quick",         "--routines",
            "--hex-blob",           "--no-tablespaces", "--default-character-set=utf8mb4",
            target->database};
  plan.shown_args_prefix = "--defaults-extra-file=PRIVATE-OPTION-FILE";
  return plan;
}

std::string engine_name(config::DbEngine engine) {
  switch (engine) {
    case config::DbEngine::kPostgresql: return "postgresql";
    case config::DbEngine::kMysql: return "mysql";
    case config::DbEngine::kSqlite: break;
  }
  return "sqlite";
}

std::string stop_text(const DbRunScope& scope) {
  return scope.cancelled() ? "the run was cancelled" : "the run's deadline passed";
}

// The SQLite engine: the online backup into a hidden sibling, then gzip into place.
R dump_sqlite(const config::JobSpec& job, const std::string& name, const config::DatabaseSettings& settings,
              const DbRunScope& scope, const DumpOptions& options, const AllowedPath& dest, AllowedPath::Parent parent) {
  const std::string shown = dest.path().string();
  const auto started = Clock::now();
  auto opened = open_sqlite(name, settings, scope, {});
  if (!opened) return R::from(opened);
  DbConnection& conn = *opened.value();
  DumpOutcome outcome{dest.path(), 0, 0, std::nullopt, "sqlite", false};
  auto count = conn.query("db.dump",
                          "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                          {});
  if (!count) return R::from(count);
  if (!count->rows.empty() && std::holds_alternative<int64_t>(count->rows[0][0]))
    outcome.tables = std::get<int64_t>(count->rows[0][0]);
  if (!options.gzip) {
    auto copy = conn.backup(dest);
    if (!copy) return R::from(copy);
    outcome.bytes = copy->bytes;
  } else {
    // The copy must be a whole database before it can be compressed, so it is made beside
    // the destination first.
    const std::string plain_name = "." + parent.name + ".uncompressed";
    auto plain = AllowedPath::locate(job, (dest.path().parent_path() / plain_name).string());
    if (!plain) return R::fail(DbFault::kServer, "db: " + name + ": dump to " + shown + ": " + plain.message());
    auto copy = conn.backup(plain.value());
    if (!copy) return R::from(copy);
    struct Remover {
      int folder;
      std::string name;
      ~Remover() { ::unlinkat(folder, name.c_str(), 0); }
    } remover{parent.folder.get(), plain_name};
    Fd source(::openat(parent.folder.get(), plain_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!source.valid())
      return R::fail(DbFault::kServer, "db: " + name + ": dump to " + shown + ": the copy could not be read back");
    auto packed = gzip_file(source.get(), parent.folder.get(), parent.name, [&scope] { return !scope.stop_now(); });
    if (!packed)
      return R::fail(DbFault::kServer, "db: " + name + ": dump to " + shown + ": " +
                                           (packed.message() == "stopped" ? stop_text(scope) : packed.message()));
    outcome.bytes = packed->bytes;
  }
  outcome.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  return outcome;
}

}  // namespace

std::optional<DumpFormat> dump_format_named(std::string_view name) {
  if (name == "plain") return DumpFormat::kPlain;
  if (name == "custom") return DumpFormat::kCustom;
  return std::nullopt;
}

DbResult<DumpOutcome> dump_database(const config::JobSpec& job, const config::HostConfig* host, const DbRunScope& scope,
                                    const std::string& name, const DumpOptions& options) {
  if (auto allowed = check_db(job, name); !allowed) return R::fail(DbFault::kRefused, allowed.message());
  if (!host || !host->databases.count(name))
    return R::fail(DbFault::kMisuse, "db.dump: no database '" + name + "' in the host config (databases:)");
  const config::DatabaseSettings& settings = host->databases.at(name);
  if (options.format == DumpFormat::kCustom && settings.engine != config::DbEngine::kPostgresql)
    return R::fail(DbFault::kMisuse, "db.dump: format 'custom' is pg_dump's; database '" + name + "' is " +
                                         engine_name(settings.engine) + " (use format 'plain')");

  auto dest = AllowedPath::locate(job, options.path);
  if (!dest) return R::fail(DbFault::kRefused, dest.message());
  const std::string shown = dest->path().string();
  if (auto target = dest->open(O_PATH); !target && dest->is_denial(target.message()))
    return R::fail(DbFault::kRefused, target.message());
  auto parent = dest->open_parent(!scope.dry_run());  // folders made only in a live run
  if (!parent && dest->is_denial(parent.message())) return R::fail(DbFault::kRefused, parent.message());

  if (settings.engine == config::DbEngine::kSqlite && !scope.dry_run()) {
    if (!parent) return R::fail(DbFault::kServer, "db: " + name + ": dump to " + shown + ": " + parent.message());
    return dump_sqlite(job, name, settings, scope, options, dest.value(), std::move(parent.value()));
  }

  Result<ToolPlan> plan = settings.engine == config::DbEngine::kPostgresql ? postgres_plan(settings, options)
                          : settings.engine == config::DbEngine::kMysql    ? mysql_plan(settings)
                                                                           : ToolPlan{};
  if (!plan) return R::fail(DbFault::kMisuse, "db.dump: database '" + name + "': " + plan.message());

  if (scope.dry_run()) {
    std::string command = "SQLite online backup of " + settings.sqlite.string();
    if (settings.engine != config::DbEngine::kSqlite) {
      auto program = find_tool(plan->command.tool);
      std::vector<std::string> args = plan->command.args;
      if (!plan->shown_args_prefix.empty()) args.insert(args.begin(), plan->shown_args_prefix);
      command = command_line(program ? program.value() : std::filesystem::path("(not installed)"), args);
    }
    command = scope.redact(command);
    if (options.gzip) command += " | gzip";
    scope.effects->capture({"db",
                            scope.redact(name + ": dump -> " + shown + " (" + command + ")"),
                            {{"database", name}, {"dump", scope.redact(shown)}, {"command", command},
                             {"engine", engine_name(settings.engine)}}});
    scope.effects->add_virtual_file(dest->path(), 0);
    return DumpOutcome{dest->path(), 0, 0, std::nullopt, engine_name(settings.engine), true};
  }
  if (!parent) return R::fail(DbFault::kServer, "db: " + name + ": dump to " + shown + ": " + parent.message());

  TableCounter counter;
  const bool count_tables = options.format == DumpFormat::kPlain;
  ToolLimits limits{scope.deadline, scope.cancelled, scope.redactor};
  auto ran = run_tool(plan->command, parent->folder.get(), parent->name, options.gzip, limits,
                      count_tables ? OutputObserver([&counter](std::string_view chunk) { counter.feed(chunk); })
                                   : OutputObserver());
  if (!ran) {
    const std::string why = ran.message() == "stopped" ? stop_text(scope) + "; the dump was stopped" : ran.message();
    return R::fail(DbFault::kServer, scope.redact("db: " + name + ": dump to " + shown + ": " + why));
  }
  DumpOutcome outcome{dest->path(), ran->bytes, ran->duration.count(), std::nullopt, engine_name(settings.engine), false};
  if (count_tables) outcome.tables = counter.tables();
  return outcome;
}

}  // namespace cronhost::api
