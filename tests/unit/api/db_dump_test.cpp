// db.dump against real servers (tests/support/dbserver.py): PostgreSQL 15 and MariaDB 10.11
// databases dumped by pg_dump and mariadb-dump, restored into fresh databases by psql,
// pg_restore and mariadb with the same row counts; gzip round trips; a dump stopped at the
// deadline leaves no file and no process; the password is in no argv and no error; refusals
// and the dry run's capture. SQLite's dump runs on a file in a scratch folder.
#include "api/db_dump.hpp"

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "../support/temp_dir.hpp"
#include "../support/db_server.hpp"

using namespace cronhost;
using test::DbKind;
using test::DbServer;
using test::DbServerInfo;

namespace {

using Clock = std::chrono::steady_clock;

// A database of its own on the shared server, owned by the app user, so that other tests'
// tables in `app` never change what a dump holds.
DbServerInfo fresh_database(DbKind kind, const std::string& prefix) {
  static int counter = 0;
  DbServerInfo info = DbServer::shared(kind).info();
  const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  if (kind == DbKind::postgres) {
    DbServer::shared(kind).sql("CREATE DATABASE " + name + " OWNER " + info.user);
  } else {
    DbServer::shared(kind).sql("CREATE DATABASE " + name);
    DbServer::shared(kind).sql("GRANT ALL ON " + name + ".* TO '" + info.user + "'@'%'");
  }
  const size_t slash = info.url.rfind('/');
  info.url = info.url.substr(0, slash + 1) + name;
  info.database = name;
  return info;
}

// As the app user over TCP (so what it makes, it owns), or as the superuser over the socket.
std::string sql(const DbServerInfo& db, const std::string& statement, test::DbLogin login = test::DbLogin::app_user) {
  auto result = test::run_client(db, statement, login);
  INFO(statement << ": " << result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

int64_t count(const DbServerInfo& db, const std::string& table) {
  return std::stoll(sql(db, "SELECT count(*) FROM " + table, test::DbLogin::superuser));
}

// Runs `command` through the shell; its exit status.
int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Feeds a dump to the engine's own client as its superuser: psql, pg_restore or mariadb.
void restore(const DbServerInfo& into, const std::filesystem::path& file, bool gzip, bool custom = false) {
  const std::string source = gzip ? "gzip -dc '" + file.string() + "'" : "cat '" + file.string() + "'";
  std::string command;
  if (into.kind == "postgres") {
    const std::string where = " -h '" + into.socket + "' -p " + std::to_string(into.port) + " -U " + into.superuser;
    command = source + " | env -i PATH=/usr/bin " +
              (custom ? "/usr/lib/postgresql/15/bin/pg_restore --exit-on-error" + where + " -d " + into.database
                      : "/usr/bin/psql -X -q -v ON_ERROR_STOP=1" + where + " -d " + into.database);
  } else {
    command = source + " | env -i PATH=/usr/bin MYSQL_PWD='" + into.superuser_password +
              "' /usr/bin/mariadb --no-defaults --protocol=socket -S '" + into.socket + "' -u " + into.superuser + " " +
              into.database;
  }
  INFO(command);
  REQUIRE(shell(command + " > /dev/null") == 0);
}

std::vector<std::string> entries(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// The children of this process running `program` (pg_dump, mariadb-dump).
std::vector<pid_t> children_running(const std::string& program) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid != ::getpid()) continue;
    std::ifstream exe(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(exe)), std::istreambuf_iterator<char>());
    if (cmdline.find(program) != std::string::npos) found.push_back(std::stoi(name));
  }
  return found;
}

std::string cmdline_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text)
    if (c == '\0') c = ' ';
  return text;
}

// A job allowed database "app" and the folder backups/ of a scratch folder, and the run it
// dumps in (its redactor knows the database's password, as the host's secrets).
struct Site {
  test::TempDir dir;
  config::JobSpec job{.name = "backup", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
  config::HostConfig host;
  api::Redactor redactor;
  api::EffectLog effects;
  std::chrono::steady_clock::time_point deadline = Clock::now() + std::chrono::seconds(60);

  explicit Site(api::EffectMode mode = api::EffectMode::kLive) : effects(mode) {
    job.allow.db = {"app"};
    job.allow.files = {dir.path() / "backups"};
  }
  void serve(const DbServerInfo& db) {
    config::DatabaseSettings settings;
    settings.engine = db.kind == "postgres" ? config::DbEngine::kPostgresql : config::DbEngine::kMysql;
    settings.url = db.url;
    settings.password = db.password;
    settings.tls.mode = "disable";
    host.databases["app"] = settings;
    redactor.add(db.password);
  }
  std::filesystem::path backups() const { return dir.path() / "backups"; }
  api::DbResult<api::DumpOutcome> dump(const std::string& file, api::DumpFormat format = api::DumpFormat::kPlain,
                                       bool gzip = false, const std::string& name = "app") {
    api::DbRunScope scope{&effects, &redactor, deadline};
    return api::dump_database(job, &host, scope, name, {(backups() / file).string(), format, gzip});
  }
};

// Three tables, one of them with rows that look like dump syntax, and an empty one.
void fill_postgres(const DbServerInfo& db) {
  sql(db, "CREATE TABLE notes (body text, id int);"
          "INSERT INTO notes VALUES ('CREATE TABLE trap (x int);', 1), (E'COPY x FROM stdin;\\n\\\\.', 2), ('plain', 3);"
          "CREATE TABLE orders (id serial PRIMARY KEY, amount numeric(12,2), placed timestamptz DEFAULT now());"
          "INSERT INTO orders (amount) SELECT g * 1.5 FROM generate_series(1, 250) g;"
          "CREATE TABLE empty_one (id int)");
}

}  // namespace

TEST_CASE("db.dump of PostgreSQL: plain, custom and gzip dumps restore into fresh databases with the same rows",
          "[db][db_dump][postgres]") {
  const auto source = fresh_database(DbKind::postgres, "dump_src");
  fill_postgres(source);
  Site site;
  site.serve(source);

  auto plain = site.dump("app.sql");
  INFO(plain.message());
  REQUIRE(plain);
  CHECK(plain->engine == "postgresql");
  CHECK(plain->path == site.backups() / "app.sql");
  CHECK(plain->bytes == std::filesystem::file_size(site.backups() / "app.sql"));
  CHECK(plain->bytes > 1000);
  REQUIRE(plain->tables);
  CHECK(*plain->tables == 3);  // the 'CREATE TABLE trap' row inside COPY data is not one
  CHECK(plain->duration_ms >= 0);
  CHECK(entries(site.backups()) == std::vector<std::string>{"app.sql"});

  auto packed = site.dump("app.sql.gz", api::DumpFormat::kPlain, true);
  REQUIRE(packed);
  CHECK(packed->bytes == std::filesystem::file_size(site.backups() / "app.sql.gz"));
  CHECK(packed->bytes < plain->bytes);
  CHECK(*packed->tables == 3);

  auto custom = site.dump("app.dump", api::DumpFormat::kCustom);
  REQUIRE(custom);
  CHECK_FALSE(custom->tables);  // compressed: not counted

  struct Case { std::filesystem::path file; bool gzip; bool custom; };
  for (const Case& c : {Case{"app.sql", false, false}, Case{"app.sql.gz", true, false}, Case{"app.dump", false, true}}) {
    INFO(c.file);
    const auto restored = fresh_database(DbKind::postgres, "dump_restored");
    restore(restored, site.backups() / c.file, c.gzip, c.custom);
    for (const char* table : {"notes", "orders", "empty_one"}) CHECK(count(restored, table) == count(source, table));
    CHECK(sql(restored, "SELECT body FROM notes WHERE id = 1", test::DbLogin::superuser) == "CREATE TABLE trap (x int);\n");
  }
}

TEST_CASE("db.dump of MariaDB: plain and gzip dumps restore with rows, routines and triggers",
          "[db][db_dump][mariadb]") {
  const auto source = fresh_database(DbKind::mariadb, "dump_src");
  sql(source, "CREATE TABLE notes (body TEXT, id INT, data BLOB);"
              "INSERT INTO notes VALUES ('CREATE TABLE trap (x int);', 1, X'00FF10'), ('line\\none', 2, NULL);"
              "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(12,2));"
              "INSERT INTO orders (amount) SELECT seq * 1.5 FROM seq_1_to_250;"
              "CREATE TABLE audit (n INT);"
              "CREATE TRIGGER count_orders AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id);"
              "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2");
  Site site;
  site.serve(source);

  for (const bool gzip : {false, true}) {
    INFO("gzip " << gzip);
    const std::string file = gzip ? "app.sql.gz" : "app.sql";
    auto dumped = site.dump(file, api::DumpFormat::kPlain, gzip);
    INFO(dumped.message());
    REQUIRE(dumped);
    CHECK(dumped->engine == "mysql");
    CHECK(dumped->bytes == std::filesystem::file_size(site.backups() / file));
    REQUIRE(dumped->tables);
    CHECK(*dumped->tables == 3);

    const auto restored = fresh_database(DbKind::mariadb, "dump_restored");
    restore(restored, site.backups() / file, gzip);
    for (const char* table : {"notes", "orders", "audit"}) CHECK(count(restored, table) == count(source, table));
    CHECK(sql(restored, "SELECT hex(data) FROM notes WHERE id = 1", test::DbLogin::superuser) == "00FF10\n");
    CHECK(sql(restored, "SELECT twice(21)", test::DbLogin::superuser) == "42\n");
    sql(restored, "INSERT INTO orders (amount) VALUES (1)", test::DbLogin::superuser);  // the trigger came along
    CHECK(count(restored, "audit") == 1);
  }
  CHECK(site.dump("app.dump", api::DumpFormat::kCustom).fault() == api::DbFault::kMisuse);
}

TEST_CASE("db.dump stopped at the deadline: the tool's process group is gone, no file is left, and no password was "
          "in its argv",
          "[db][db_dump][deadline]") {
  for (const DbKind kind : {DbKind::postgres, DbKind::mariadb}) {
    const bool pg = kind == DbKind::postgres;
    INFO((pg ? "postgres" : "mariadb"));
    const auto source = fresh_database(kind, "dump_held");
    sql(source, "CREATE TABLE held (id int); INSERT INTO held VALUES (1)");
    // Another session holds the table locked for 20 s: the dump waits for it.
    const std::string hold = pg ? "BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20)"
                                : "LOCK TABLES held WRITE; SELECT SLEEP(20)";
    // Joined however the test ends (a failed REQUIRE unwinds through here).
    struct Joined {
      std::thread thread;
      ~Joined() {
        if (thread.joinable()) thread.join();
      }
    };
    Joined holder{std::thread([&] { (void)test::run_client(source, hold, test::DbLogin::superuser); })};
    const std::string waiting = pg ? "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)' AND "
                                     "wait_event = 'PgSleep'"
                                   : "SELECT count(*) FROM information_schema.processlist WHERE info = 'SELECT SLEEP(20)'";
    for (int i = 0; i < 100 && sql(source, waiting, test::DbLogin::superuser) != "1\n"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));

    Site site;
    site.serve(source);
    site.deadline = Clock::now() + std::chrono::milliseconds(2500);
    std::atomic<bool> done{false};
    std::optional<api::DbResult<api::DumpOutcome>> result;
    const auto started = Clock::now();
    Joined dumper{std::thread([&] {
      result.emplace(site.dump("held.sql.gz", api::DumpFormat::kPlain, true));
      done = true;
    })};
    const std::string program = pg ? "pg_dump" : "mariadb-dump";
    std::vector<pid_t> tools;
    for (int i = 0; i < 40 && tools.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      tools = children_running(program);
    }
    REQUIRE(tools.size() == 1);
    const std::string argv = cmdline_of(tools[0]);
    INFO(argv);
    CHECK(argv.find(program) != std::string::npos);
    CHECK(argv.find(source.password) == std::string::npos);
    std::string option_file;
    if (!pg) {  // mariadb-dump reads the password from a 0600 file in a 0700 folder
      const std::string flag = "--defaults-extra-file=";
      const size_t at = argv.find(flag);
      REQUIRE(at != std::string::npos);
      option_file = argv.substr(at + flag.size(), argv.find(' ', at) - at - flag.size());
      struct stat file {}, folder {};
      REQUIRE(::stat(option_file.c_str(), &file) == 0);
      REQUIRE(::stat(std::filesystem::path(option_file).parent_path().c_str(), &folder) == 0);
      CHECK((file.st_mode & 0777) == 0600);
      CHECK((folder.st_mode & 0777) == 0700);
    }
    dumper.thread.join();
    const auto took = Clock::now() - started;
    REQUIRE(done);
    REQUIRE_FALSE(*result);
    CHECK(result->fault() == api::DbFault::kServer);
    CHECK_THAT(result->message(), Catch::Matchers::Contains("the run's deadline passed; the dump was stopped"));
    CHECK(took < std::chrono::seconds(6));  // 2.5 s deadline, at most 2 s of SIGTERM grace
    CHECK(children_running(program).empty());
    CHECK(::kill(tools[0], 0) == -1);
    CHECK(entries(site.backups()).empty());  // no temp file, no partial dump
    if (!option_file.empty()) {
      CHECK_FALSE(std::filesystem::exists(option_file));
      CHECK_FALSE(std::filesystem::exists(std::filesystem::path(option_file).parent_path()));
    }
    // Release the lock rather than wait out the sleep.
    if (pg) {
      sql(source, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)' AND pid <> "
                  "pg_backend_pid()", test::DbLogin::superuser);
    } else {
      const std::string id =
          sql(source, "SELECT id FROM information_schema.processlist WHERE info = 'SELECT SLEEP(20)'", test::DbLogin::superuser);
      if (!id.empty()) (void)test::run_client(source, "KILL " + id.substr(0, id.find('\n')), test::DbLogin::superuser);
    }
    holder.thread.join();
  }
}

TEST_CASE("db.dump's errors carry the tool's stderr, redacted: a password the server echoes is shown as ***",
          "[db][db_dump]") {
  for (const DbKind kind : {DbKind::postgres, DbKind::mariadb}) {
    auto source = DbServer::shared(kind).info();
    // The user is named like the password, so the server's "authentication failed for user
    // ..." repeats the secret, which the error must not.
    const std::string secret = "Sekr1t-" + std::to_string(::getpid());
    source.url = (kind == DbKind::postgres ? "postgresql://" : "mysql://") + secret + "@127.0.0.1:" +
                 std::to_string(source.port) + "/app";
    source.password = secret;
    Site site;
    site.serve(source);
    auto failed = site.dump("app.sql");
    INFO(failed.message());
    REQUIRE_FALSE(failed);
    CHECK(failed.fault() == api::DbFault::kServer);
    CHECK_THAT(failed.message(), Catch::Matchers::Contains("exited with status"));
    CHECK_THAT(failed.message(), Catch::Matchers::Contains("***"));
    CHECK(failed.message().find(secret) == std::string::npos);
    CHECK(entries(site.backups()).empty());
  }
}

TEST_CASE("db.dump refuses a database outside allow.db and a path outside allow.files, and runs nothing",
          "[db][db_dump]") {
  Site site;
  site.serve(DbServer::shared(DbKind::postgres).info());
  site.host.databases["other"] = site.host.databases["app"];
  auto not_allowed = site.dump("x.sql", api::DumpFormat::kPlain, false, "other");
  CHECK(not_allowed.fault() == api::DbFault::kRefused);
  CHECK_THAT(not_allowed.message(), Catch::Matchers::Contains("allow.db"));

  api::DbRunScope scope{&site.effects, &site.redactor, site.deadline};
  auto outside = api::dump_database(site.job, &site.host, scope, "app", {(site.dir.path() / "elsewhere.sql").string()});
  CHECK(outside.fault() == api::DbFault::kRefused);
  CHECK_THAT(outside.message(), Catch::Matchers::Contains("allow.files"));
  auto escaping = site.dump("../escape.sql");
  CHECK(escaping.fault() == api::DbFault::kRefused);
  CHECK_FALSE(std::filesystem::exists(site.dir.path() / "escape.sql"));
  CHECK(site.dump("x.sql", api::DumpFormat::kPlain, false, "missing").fault() == api::DbFault::kRefused);
}

TEST_CASE("db.dump in a dry run captures the command line without the password and a 0-byte virtual file",
          "[db][db_dump]") {
  for (const DbKind kind : {DbKind::postgres, DbKind::mariadb}) {
    const auto& server = DbServer::shared(kind).info();
    Site site(api::EffectMode::kDryRun);
    site.serve(server);
    auto dumped = site.dump("app.sql.gz", api::DumpFormat::kPlain, true);
    REQUIRE(dumped);
    CHECK(dumped->dry_run);
    CHECK(dumped->bytes == 0);
    REQUIRE(site.effects.captured().size() == 1);
    const auto& effect = site.effects.captured()[0];
    INFO(effect.summary);
    CHECK(effect.kind == "db");
    const std::string command = effect.detail["command"];
    if (kind == DbKind::postgres) {
      CHECK_THAT(command, Catch::Matchers::StartsWith("/usr/lib/postgresql/15/bin/pg_dump --format=plain --no-password"));
      CHECK_THAT(command, Catch::Matchers::Contains("--dbname=" + server.url));
    } else {
      CHECK_THAT(command, Catch::Matchers::Contains("mariadb-dump --defaults-extra-file=PRIVATE-OPTION-FILE "
                                                    "--single-transaction --quick --routines"));
    }
    CHECK_THAT(command, Catch::Matchers::EndsWith(" | gzip"));
    CHECK(effect.summary.find(server.password) == std::string::npos);
    CHECK(command.find(server.password) == std::string::npos);
    const uintmax_t* virtual_size = site.effects.virtual_file(site.backups() / "app.sql.gz");
    REQUIRE(virtual_size);
    CHECK(*virtual_size == 0);
    CHECK(entries(site.backups()).empty());  // (the allowed folder itself is made when missing, as for every path)
  }
}

TEST_CASE("db.dump of SQLite: the online backup, gzip-compressed when asked, with its table count",
          "[db][db_dump][sqlite]") {
  Site site;
  const auto file = site.dir.path() / "app.db";
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE TABLE a(x); CREATE TABLE b(y); INSERT INTO a VALUES (1), (2);", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  sqlite3_close(db);
  site.host.databases["app"].sqlite = file;

  auto copy = site.dump("app.db.gz", api::DumpFormat::kPlain, true);
  INFO(copy.message());
  REQUIRE(copy);
  CHECK(copy->engine == "sqlite");
  CHECK(*copy->tables == 2);
  CHECK(copy->bytes == std::filesystem::file_size(site.backups() / "app.db.gz"));
  CHECK(entries(site.backups()) == std::vector<std::string>{"app.db.gz"});  // the uncompressed copy is gone
  REQUIRE(shell("gzip -dc '" + (site.backups() / "app.db.gz").string() + "' > '" + (site.dir.path() / "back.db").string() +
                "'") == 0);
  REQUIRE(sqlite3_open((site.dir.path() / "back.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM a", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(sqlite3_column_int(stmt, 0) == 2);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  CHECK(site.dump("app.dump", api::DumpFormat::kCustom).fault() == api::DbFault::kMisuse);
}

TEST_CASE("db.dump of MariaDB through ?socket= reaches the local server the engine would, not TCP on localhost",
          "[db][db_dump][mariadb]") {
  auto source = fresh_database(DbKind::mariadb, "dump_socket");
  sql(source, "CREATE TABLE t (id INT); INSERT INTO t VALUES (1), (2)");
  source.url = "mysql://" + source.user + "@localhost/" + source.database + "?socket=" + source.socket;
  Site site;
  site.serve(source);
  auto dumped = site.dump("socket.sql");
  INFO(dumped.message());
  REQUIRE(dumped);
  REQUIRE(dumped->tables);
  CHECK(*dumped->tables == 1);
  const auto restored = fresh_database(DbKind::mariadb, "dump_socket_restored");
  restore(restored, site.backups() / "socket.sql", false);
  CHECK(count(restored, "t") == 2);
}
