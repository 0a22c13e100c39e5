#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

#include "../support/temp_dir.hpp"
#include "config/host_config.hpp"

using namespace cronhost;
using namespace cronhost::config;

TEST_CASE("host config: values, relative paths and defaults", "[config][host]") {
  test::TempDir dir;
  const auto file = dir.write("etc/cronhost.yaml",
                              "state: data/cronhost.db\ntimezone: Australia/Adelaide\nworkers: 3\n"
                              "shutdown_grace: 1m\nlog: {level: debug, format: json, file: logs/cronhost.log, keep_days: 14}\n");
  Diagnostics diagnostics;
  auto config = load_host_config(file, diagnostics);
  REQUIRE(diagnostics.empty());
  REQUIRE(config);
  CHECK(config->state_file == dir.path() / "etc/data/cronhost.db");
  CHECK(config->timezone->name() == "Australia/Adelaide");
  CHECK(config->workers == 3);
  CHECK(config->shutdown_grace == std::chrono::minutes(1));
  CHECK(config->log.level == "debug");
  CHECK(config->log.format == "json");
  CHECK(config->log.file == dir.path() / "etc/logs/cronhost.log");
  CHECK(config->log.keep == 14);  // keep_days: keep's old name

  const auto empty = dir.write("empty.yaml", "");
  auto defaults = load_host_config(empty, diagnostics);
  REQUIRE(defaults);
  CHECK(defaults->timezone->name() == "UTC");
  CHECK(defaults->workers >= 1);
  CHECK(defaults->shutdown_grace == std::chrono::seconds(30));
  CHECK(defaults->log.rotate == "daily");
  CHECK(defaults->log.keep == 7);
  CHECK(defaults->log.max_size_bytes == 100u << 20);
}

TEST_CASE("host config: log rotation by size, by day or by logrotate", "[config][host][log]") {
  test::TempDir dir;
  Diagnostics diagnostics;
  auto sized = load_host_config(dir.write("a.yaml", "log: {file: x.log, rotate: size, max_size: 512KB, keep: 3}\n"), diagnostics);
  REQUIRE(sized);
  CHECK(sized->log.rotate == "size");
  CHECK(sized->log.max_size_bytes == 512u << 10);
  CHECK(sized->log.keep == 3);
  CHECK(load_host_config(dir.write("b.yaml", "log: {rotate: size, max_size: 2 GB}\n"), diagnostics)->log.max_size_bytes ==
        uint64_t{2} << 30);
  CHECK(diagnostics.empty());

  for (const auto& [text, problem] : std::vector<std::pair<std::string, std::string>>{
           {"log: {rotate: size, max_size: 100M}\n",
            ":1:31: error: log.max_size: expected a size such as 100MB, 512KB or 1GB, got \"100M\""},
           {"log: {rotate: size, max_size: 10B}\n", ":1:31: error: log.max_size: size \"10B\" is below the least, 1KB"},
           {"log: {rotate: size, max_size: 4096GB}\n",
            ":1:31: error: log.max_size: size \"4096GB\" is too large (at most 1024GB)"},
           {"log: {max_size: 1MB}\n", ":1:7: error: log.max_size: is for log.rotate: size (log.rotate is daily)"},
           {"log: {keep: 3, keep_days: 3}\n", ":1:16: error: log.keep_days: is the old name of log.keep; give only keep"},
           {"log: {rotate: hourly}\n", ":1:15: error: log.rotate: expected one of daily, size or none, got \"hourly\""},
           {"log: {keep: 0}\n", ":1:13: error: log.keep: expected a whole number of files"},
       }) {
    INFO(text);
    Diagnostics errors;
    CHECK_FALSE(load_host_config(dir.write("bad.yaml", text), errors));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0].format().substr((dir.path() / "bad.yaml").string().size()), Catch::StartsWith(problem));
  }
}

TEST_CASE("host config: a service's default paths apply where the file names none", "[config][host]") {
  test::TempDir dir;
  HostConfig service;
  service.jobs_dir = "/etc/cronhost/jobs.d";
  service.state_file = "/var/lib/cronhost/state.db";
  Diagnostics diagnostics;
  auto unset = load_host_config(dir.write("a.yaml", "log: {file: x.log, rotate: none}\n"), diagnostics, service);
  REQUIRE(unset);
  CHECK(unset->jobs_dir == "/etc/cronhost/jobs.d");
  CHECK(unset->state_file == "/var/lib/cronhost/state.db");
  CHECK(unset->log.rotate == "none");
  auto named = load_host_config(dir.write("b.yaml", "jobs: mine.d\nstate: mine.db\n"), diagnostics, service);
  REQUIRE(named);
  CHECK(named->jobs_dir == dir.path() / "mine.d");
  CHECK(named->state_file == dir.path() / "mine.db");
  CHECK(diagnostics.empty());
}

TEST_CASE("host config errors name the key", "[config][host]") {
  test::TempDir dir;
  const auto file = dir.write("cronhost.yaml", "workers: lots\ntimezone: Mars/Base\nlog: {levle: debug}\n");
  Diagnostics diagnostics;
  CHECK_FALSE(load_host_config(file, diagnostics));
  std::vector<std::string> lines;
  for (const auto& d : diagnostics) lines.push_back(d.format().substr(file.string().size()));
  CHECK(lines == std::vector<std::string>{
                     ":1:10: error: workers: expected a whole number from 1 to 1024, got text",
                     ":3:7: error: unknown key 'levle' in log, did you mean 'level'?",
                 });
  Diagnostics zone_diagnostics;
  const auto zone_file = dir.write("zone.yaml", "timezone: Mars/Base\n");
  CHECK_FALSE(load_host_config(zone_file, zone_diagnostics));
  REQUIRE(zone_diagnostics.size() == 1);
  CHECK(zone_diagnostics[0].format() == zone_file.string() +
                                            ":1:11: error: timezone: unknown time zone \"Mars/Base\", expected an IANA "
                                            "name such as Europe/London or UTC");
}

TEST_CASE("host config: run_as is a user name looked up at load, or uid:gid, never root", "[config][host]") {
  test::TempDir dir;
  const auto load = [&](const std::string& value, Diagnostics& diagnostics) {
    return load_host_config(dir.write("cronhost.yaml", "run_as: " + value + "\n"), diagnostics);
  };
  Diagnostics ok;
  CHECK(load("'1000:100'", ok)->run_as == "1000:100");
  CHECK(load("nobody", ok)->run_as == "65534:65534");  // Debian's nobody:nogroup
  CHECK(load_host_config(dir.write("none.yaml", "workers: 1\n"), ok)->run_as.empty());
  CHECK(ok.empty());

  for (const auto& [value, problem] : std::vector<std::pair<std::string, std::string>>{
           {"no-such-user-cronhost", ":1:9: error: run_as: no user named no-such-user-cronhost on this host (expected a user "
                                     "name or uid:gid)"},
           {"root", ":1:9: error: run_as: root is root (expected a user without privileges)"},
           {"'0:0'", ":1:10: error: run_as: 0:0 is root (expected a user without privileges)"}}) {
    Diagnostics diagnostics;
    INFO(value);
    CHECK_FALSE(load(value, diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].format().substr((dir.path() / "cronhost.yaml").string().size()) == problem);
  }
  Diagnostics shape;
  CHECK_FALSE(load("'12:ab'", shape));
  REQUIRE(shape.size() == 1);
  CHECK_THAT(shape[0].format(), Catch::Contains("run_as: expected a user name or uid:gid such as 65534:65534"));
}

TEST_CASE("host config: run_as names are looked up only through the lookup given", "[config][host]") {
  test::TempDir dir;
  static int lookups = 0;
  const UserLookup counting = [](const std::string& name) -> Result<std::string> {
    ++lookups;
    return name == "deploy" ? Result<std::string>("1200:1200") : Result<std::string>("0:0");
  };
  const auto load = [&](const std::string& value, UserLookup users, Diagnostics& diagnostics) {
    return load_host_config(dir.write("cronhost.yaml", "run_as: " + value + "\n"), diagnostics, HostConfig{}, users);
  };
  Diagnostics ok;
  CHECK(load("deploy", counting, ok)->run_as == "1200:1200");
  CHECK(lookups == 1);
  // bin/cronhost gives none (it is static and must not reach NSS): the name is kept as written,
  // without an error (`next --expr` runs nothing); a runner given a name refuses it.
  CHECK(load("no-such-user-cronhost", nullptr, ok)->run_as == "no-such-user-cronhost");
  CHECK(load("'1000:100'", nullptr, ok)->run_as == "1000:100");
  CHECK(ok.empty());
  CHECK(lookups == 1);
  // Root is refused whichever way it came: written, or a name whose ids are root's.
  for (const UserLookup users : {counting, UserLookup{}}) {
    for (const std::string ids : {"0:5", "00:0", "000:1000"}) {
      Diagnostics root;
      INFO(ids);
      CHECK_FALSE(load("'" + ids + "'", users, root));
      REQUIRE(root.size() == 1);
      CHECK_THAT(root[0].format(), Catch::Contains("run_as: " + ids + " is root (expected a user without privileges)"));
    }
  }
  CHECK(load("'010:10'", nullptr, ok)->run_as == "010:10");
  // Ids a runner could not switch to: 4294967295 is setresuid's "leave unchanged" (it would
  // stay root), larger ones would wrap. Root's group is refused as root is.
  for (const auto& [ids, problem] : std::vector<std::pair<std::string, std::string>>{
           {"4294967295:4294967295", "run_as: 4294967295:4294967295: each id must be below 4294967295"},
           {"1000:4294967296", "run_as: 1000:4294967296: each id must be below 4294967295"},
           {"4294967296:1000", "run_as: 4294967296:1000: each id must be below 4294967295"},
           {"1000:0", "run_as: 1000:0 has root's group, gid 0 (expected a group without privileges)"},
           {"1000:000", "run_as: 1000:000 has root's group, gid 0 (expected a group without privileges)"}}) {
    Diagnostics bad;
    INFO(ids);
    CHECK_FALSE(load("'" + ids + "'", nullptr, bad));
    REQUIRE(bad.size() == 1);
    CHECK_THAT(bad[0].format(), Catch::Contains(problem));
  }
  Diagnostics alias;
  CHECK_FALSE(load("toor", counting, alias));
  REQUIRE(alias.size() == 1);
  CHECK_THAT(alias[0].format(), Catch::Contains("run_as: toor is root (expected a user without privileges)"));
}

TEST_CASE("host config: the server section, tokens as secrets", "[config][host][server]") {
  test::TempDir dir;
  dir.write("etc/alice.token", "alice-token-0123456789\n");
  const auto file = dir.write("etc/cronhost.yaml",
                              "server:\n"
                              "  listen: 0.0.0.0:9090\n"
                              "  open: [metrics]\n"
                              "  port_file: run/api.port\n"
                              "  registration: {urls: ['http://127.0.0.1:9000/jobs/*']}\n"
                              "  tokens:\n"
                              "    - {name: alice, role: admin, token: '${file:alice.token}'}\n"
                              "    - {name: viv, role: viewer, token: viewer-token-0123456789}\n");
  Diagnostics diagnostics;
  auto config = load_host_config(file, diagnostics);
  REQUIRE(config);
  CHECK(config->server.host == "0.0.0.0");
  CHECK(config->server.port == 9090);
  CHECK(config->server.open_metrics);
  CHECK_FALSE(config->server.open_health);
  CHECK(config->server.port_file == dir.path() / "etc/run/api.port");
  CHECK(config->server.registration_urls == std::vector<std::string>{"http://127.0.0.1:9000/jobs/*"});
  REQUIRE(config->server.tokens.size() == 2);
  CHECK(config->server.tokens[0].token == "alice-token-0123456789");
  CHECK(config->server.tokens[1].role == Role::kViewer);
  // A token written in plain text works, with a warning that names it.
  REQUIRE(diagnostics.size() == 1);
  CHECK_FALSE(diagnostics[0].is_error());
  CHECK_THAT(diagnostics[0].format(), Catch::Contains("cronhost.yaml:8:") && Catch::Contains("token \"viv\" is written in plain text"));

  const auto defaults = load_host_config(dir.write("empty.yaml", ""), diagnostics);
  CHECK(defaults->server.enabled);
  CHECK(defaults->server.host == "127.0.0.1");
  CHECK(defaults->server.port == 8080);
}

TEST_CASE("host config: a token from an unset variable is left out without a word", "[config][host][server]") {
  // The repository's cronhost.yaml on a fresh checkout: every command reads it, and only the
  // daemon serves the API, so the config loader itself has nothing to warn about.
  test::TempDir dir;
  ::unsetenv("CRONHOST_TEST_UNSET_TOKEN");
  const auto file = dir.write("cronhost.yaml",
                              "server:\n"
                              "  tokens:\n"
                              "    - {name: admin, role: admin, token: '${env:CRONHOST_TEST_UNSET_TOKEN:-}'}\n");
  Diagnostics diagnostics;
  auto config = load_host_config(file, diagnostics);
  REQUIRE(config);
  CHECK(diagnostics.empty());
  CHECK(config->server.tokens.empty());
  CHECK(config->server.empty_tokens == std::vector<std::string>{"admin"});  // for `run` to name
}

TEST_CASE("host config: server mistakes are errors that name the key", "[config][host][server]") {
  test::TempDir dir;
  const auto file = dir.write("cronhost.yaml",
                              "server:\n"
                              "  listen: localhost\n"
                              "  tokens:\n"
                              "    - {name: a, role: root, token: short}\n"
                              "    - {name: b, role: admin, token: same-token-0123456789}\n"
                              "    - {name: b, role: admin, token: same-token-0123456789}\n");
  Diagnostics diagnostics;
  CHECK_FALSE(load_host_config(file, diagnostics));
  std::string all;
  for (const auto& d : diagnostics) all += d.format() + "\n";
  CHECK_THAT(all, Catch::Contains("cronhost.yaml:2:11: error: server.listen"));
  CHECK_THAT(all, Catch::Contains("cronhost.yaml:4:23: error: server.tokens[0].role"));
  CHECK_THAT(all, Catch::Contains("server.tokens[0].token"));
}

TEST_CASE("the bundled cronhost.yaml takes the SMTP port and TLS mode from the environment", "[config][host]") {
  const std::filesystem::path bundled = std::filesystem::path(CRONHOST_SOURCE_DIR) / "cronhost.yaml";
  const auto load = [&] {
    Diagnostics diagnostics;
    auto config = load_host_config(bundled, diagnostics);
    INFO((diagnostics.empty() ? std::string() : diagnostics.front().format()));
    REQUIRE(config);
    REQUIRE(config->smtp);
    return *config->smtp;
  };
  unsetenv("SMTP_PORT");
  unsetenv("SMTP_TLS");
  setenv("SMTP_HOST", "mail.acme.test", 1);
  auto smtp = load();
  CHECK(smtp.host == "mail.acme.test");
  CHECK(smtp.port == 587);  // unset: the TLS mode's port
  CHECK(smtp.tls == "starttls");
  setenv("SMTP_TLS", "none", 1);
  CHECK(load().port == 25);
  setenv("SMTP_PORT", "2525", 1);
  smtp = load();
  CHECK(smtp.port == 2525);
  CHECK(smtp.tls == "none");
  setenv("SMTP_PORT", "lots", 1);
  Diagnostics diagnostics;
  CHECK_FALSE(load_host_config(bundled, diagnostics));
  CHECK(std::any_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.message.find("smtp.port: expected a port number") == 0;
  }));
  for (const char* name : {"SMTP_PORT", "SMTP_TLS", "SMTP_HOST"}) unsetenv(name);
}

TEST_CASE("host config: databases on PostgreSQL and MySQL servers, passwords only as secrets", "[config][host][db]") {
  test::TempDir dir;
  dir.write("etc/app.pw", "pg-secret-0123\n");
  dir.write("etc/ca.pem", "-----BEGIN CERTIFICATE-----\n");
  ::setenv("CRONHOST_TEST_SHOP_PW", "my-secret-4567", 1);
  const auto file = dir.write("etc/cronhost.yaml",
                              "databases:\n"
                              "  app:\n"
                              "    postgresql: postgresql://cron@db.internal:5432/app?sslmode=require\n"
                              "    password: '${file:app.pw}'\n"
                              "    tls: {mode: verify-full, ca: ca.pem}\n"
                              "    connect_timeout: 3s\n"
                              "    readonly: true\n"
                              "  shop: {mysql: 'mysql://shop@127.0.0.1:3306/shop', password: '${env:CRONHOST_TEST_SHOP_PW}'}\n"
                              "  local: {sqlite: data/local.db}\n");
  Diagnostics diagnostics;
  auto config = load_host_config(file, diagnostics);
  INFO((diagnostics.empty() ? std::string() : diagnostics[0].format()));
  REQUIRE(diagnostics.empty());
  REQUIRE(config);
  const auto& app = config->databases.at("app");
  CHECK(app.engine == DbEngine::kPostgresql);
  CHECK(app.url == "postgresql://cron@db.internal:5432/app?sslmode=require");
  CHECK(app.password == "pg-secret-0123");
  CHECK(app.tls.mode == "verify-full");
  CHECK(app.tls.ca == dir.path() / "etc/ca.pem");
  CHECK(app.connect_timeout == std::chrono::seconds(3));
  CHECK(app.readonly);
  const auto& shop = config->databases.at("shop");
  CHECK(shop.engine == DbEngine::kMysql);
  CHECK(shop.url == "mysql://shop@127.0.0.1:3306/shop");
  CHECK(shop.password == "my-secret-4567");
  CHECK(shop.tls.mode.empty());
  CHECK(shop.connect_timeout == std::chrono::seconds(10));  // the default
  CHECK_FALSE(shop.readonly);
  const auto& local = config->databases.at("local");
  CHECK(local.engine == DbEngine::kSqlite);
  CHECK(local.sqlite == dir.path() / "etc/data/local.db");
  // The passwords are secrets: the redactor hides them wherever they could show.
  const auto& secrets = config->secrets;
  CHECK(std::find(secrets.begin(), secrets.end(), "pg-secret-0123") != secrets.end());
  CHECK(std::find(secrets.begin(), secrets.end(), "my-secret-4567") != secrets.end());
  ::unsetenv("CRONHOST_TEST_SHOP_PW");
}

TEST_CASE("host config: a database password in the URL or in plain text is refused, naming the key", "[config][host][db]") {
  test::TempDir dir;
  for (const auto& [yaml, problem] : std::vector<std::pair<std::string, std::string>>{
           {"databases:\n  app: {postgresql: 'postgresql://cron:hunter2@db:5432/app'}\n",
            ":2:22: error: databases.app.postgresql: the URL holds a password; give it as password: \"${env:NAME}\" or "
            "\"${file:PATH}\" instead, so it is never shown"},
           {"databases:\n  app: {postgresql: 'postgresql://cron@db/app?sslmode=require&password=hunter2'}\n",
            ":2:22: error: databases.app.postgresql: the URL holds a password; give it as password: \"${env:NAME}\" or "
            "\"${file:PATH}\" instead, so it is never shown"},
           {"databases:\n  shop: {mysql: 'mysql://shop:hunter2@db/shop'}\n",
            ":2:18: error: databases.shop.mysql: the URL holds a password; give it as password: \"${env:NAME}\" or "
            "\"${file:PATH}\" instead, so it is never shown"},
           {"databases:\n  app: {postgresql: 'postgresql://cron@db/app', password: hunter2}\n",
            ":2:59: error: databases.app.password: is written in plain text; give it as ${env:NAME} or ${file:PATH}"},
           {"databases:\n  app: {sqlite: app.db, connect_timeout: 3s}\n",
            ":2:25: error: databases.app.connect_timeout: is for postgresql and mysql databases"},
       }) {
    Diagnostics diagnostics;
    INFO(yaml);
    CHECK_FALSE(load_host_config(dir.write("cronhost.yaml", yaml), diagnostics));
    REQUIRE(diagnostics.size() == 1);
    const std::string text = diagnostics[0].format();
    CHECK(text.substr((dir.path() / "cronhost.yaml").string().size()) == problem);
    CHECK(text.find("hunter2") == std::string::npos);  // the refusal never shows the password
  }
  // Schema shapes: no engine, two engines, a TLS mode libpq does not know, a URL of another scheme.
  for (const std::string yaml : {"databases:\n  app: {readonly: true}\n",
                                 "databases:\n  app: {sqlite: a.db, postgresql: 'postgresql://db/app'}\n",
                                 "databases:\n  app: {postgresql: 'postgresql://db/app', tls: {mode: always}}\n",
                                 "databases:\n  app: {postgresql: 'http://db/app'}\n"}) {
    Diagnostics diagnostics;
    INFO(yaml);
    CHECK_FALSE(load_host_config(dir.write("cronhost.yaml", yaml), diagnostics));
    REQUIRE_FALSE(diagnostics.empty());
    CHECK_THAT(diagnostics[0].format(), Catch::Contains("databases.app"));
  }
}

TEST_CASE("host config: a MySQL URL the engine could not read is refused at load, naming the key", "[config][host][db]") {
  test::TempDir dir;
  for (const auto& [yaml, problem] : std::vector<std::pair<std::string, std::string>>{
           {"databases:\n  shop: {mysql: 'mysql://shop@db:33o6/shop'}\n",
            ":2:18: error: databases.shop.mysql: the port '33o6' in the URL is not a number from 1 to 65535"},
           {"databases:\n  shop: {mysql: 'mysql://db:3306/shop'}\n",
            ":2:18: error: databases.shop.mysql: the URL names no user (expected mysql://user@host:port/database)"},
           {"databases:\n  shop: {mysql: 'mariadb://shop@db/shop?sslmode=require'}\n",
            ":2:18: error: databases.shop.mysql: the URL option 'sslmode' is unknown (expected socket=PATH)"},
       }) {
    Diagnostics diagnostics;
    INFO(yaml);
    CHECK_FALSE(load_host_config(dir.write("cronhost.yaml", yaml), diagnostics));
    REQUIRE(diagnostics.size() == 1);
    const std::string text = diagnostics[0].format();
    CHECK(text.substr((dir.path() / "cronhost.yaml").string().size()) == problem);
  }
  // The URLs the engine reads load as they are.
  for (const std::string url : {"mysql://shop@db:3306/shop", "mariadb://shop@localhost/shop?socket=/run/mysqld/mysqld.sock",
                                "mysql://shop@[::1]:3307/shop"}) {
    Diagnostics diagnostics;
    INFO(url);
    CHECK(load_host_config(dir.write("cronhost.yaml", "databases:\n  shop: {mysql: '" + url + "'}\n"), diagnostics));
    CHECK(config::error_count(diagnostics) == 0);
  }
}

TEST_CASE("host config: state is a SQLite file, or PostgreSQL as a URL or a mapping with a secret password", "[config][host]") {
  test::TempDir dir;
  ::setenv("CRONHOST_TEST_STATE_PW", "state-secret-89", 1);
  Diagnostics diagnostics;
  auto file = load_host_config(dir.write("etc/a.yaml", "state: data/cronhost.db\n"), diagnostics);
  REQUIRE(file);
  CHECK(file->state_file == dir.path() / "etc/data/cronhost.db");
  CHECK_FALSE(file->state_server);

  auto url = load_host_config(dir.write("etc/b.yaml", "state: postgresql://cronhost@db:5432/cronhost\n"), diagnostics);
  REQUIRE(url);
  REQUIRE(url->state_server);
  CHECK(url->state_server->engine == DbEngine::kPostgresql);
  CHECK(url->state_server->url == "postgresql://cronhost@db:5432/cronhost");
  CHECK(url->state_server->password.empty());  // libpq's own: PGPASSWORD, ~/.pgpass

  dir.write("etc/ca.pem", "-----BEGIN CERTIFICATE-----\n");
  auto mapping = load_host_config(dir.write("etc/c.yaml",
                                            "state:\n"
                                            "  postgresql: postgres://cronhost@db/cronhost\n"
                                            "  password: ${env:CRONHOST_TEST_STATE_PW}\n"
                                            "  tls: {mode: verify-full, ca: ca.pem}\n"
                                            "  connect_timeout: 4s\n"),
                                  diagnostics);
  INFO((diagnostics.empty() ? std::string() : diagnostics[0].format()));
  REQUIRE(diagnostics.empty());
  REQUIRE(mapping);
  REQUIRE(mapping->state_server);
  CHECK(mapping->state_server->url == "postgres://cronhost@db/cronhost");
  CHECK(mapping->state_server->password == "state-secret-89");
  CHECK(mapping->state_server->tls.mode == "verify-full");
  CHECK(mapping->state_server->tls.ca == dir.path() / "etc/ca.pem");
  CHECK(mapping->state_server->connect_timeout == std::chrono::seconds(4));
  const auto& secrets = mapping->secrets;
  CHECK(std::find(secrets.begin(), secrets.end(), "state-secret-89") != secrets.end());
  ::unsetenv("CRONHOST_TEST_STATE_PW");
}

TEST_CASE("host config: a state password in the URL or in plain text, or a state mapping without a server, is refused", "[config][host]") {
  test::TempDir dir;
  for (const auto& [yaml, problem] : std::vector<std::pair<std::string, std::string>>{
           {"state: 'postgresql://cron:hunter2@db/cronhost'\n",
            ":1:9: error: state: the URL holds a password; write state: {postgresql: URL, password: \"${env:NAME}\"} "
            "(or ${file:PATH}), or set PGPASSWORD, so it is never shown"},
           {"state: {postgresql: 'postgresql://cron@db/cronhost?password=hunter2'}\n",
            ":1:22: error: state.postgresql: the URL holds a password; give it as password: \"${env:NAME}\" or "
            "\"${file:PATH}\" instead, so it is never shown"},
           {"state: {postgresql: 'postgresql://cron@db/cronhost', password: hunter2}\n",
            ":1:64: error: state.password: is written in plain text; give it as ${env:NAME} or ${file:PATH}"},
       }) {
    Diagnostics diagnostics;
    INFO(yaml);
    CHECK_FALSE(load_host_config(dir.write("cronhost.yaml", yaml), diagnostics));
    REQUIRE(diagnostics.size() == 1);
    const std::string text = diagnostics[0].format();
    CHECK(text.substr((dir.path() / "cronhost.yaml").string().size()) == problem);
    CHECK(text.find("hunter2") == std::string::npos);
  }
  for (const std::string yaml : {"state: {sqlite: a.db}\n", "state: {postgresql: 'mysql://db/x'}\n",
                                 "state: {postgresql: 'postgresql://db/x', readonly: true}\n", "state: ''\n"}) {
    Diagnostics diagnostics;
    INFO(yaml);
    CHECK_FALSE(load_host_config(dir.write("cronhost.yaml", yaml), diagnostics));
    REQUIRE_FALSE(diagnostics.empty());
    CHECK_THAT(diagnostics[0].format(), Catch::Contains("state"));
  }
}

TEST_CASE("host config: cluster.lease defaults to 5s and must be at least 1s", "[config][host]") {
  test::TempDir dir;
  Diagnostics diagnostics;
  auto defaults = load_host_config(dir.write("none.yaml", "workers: 2\n"), diagnostics);
  REQUIRE(defaults);
  CHECK(defaults->cluster_lease == std::chrono::seconds(5));
  auto set = load_host_config(dir.write("set.yaml", "cluster: {lease: 2s}\n"), diagnostics);
  REQUIRE(set);
  CHECK(set->cluster_lease == std::chrono::seconds(2));
  REQUIRE(diagnostics.empty());

  const auto short_file = dir.write("short.yaml", "workers: 2\ncluster: {lease: 500ms}\n");
  CHECK_FALSE(load_host_config(short_file, diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() == short_file.string() +
                                       ":2:18: error: cluster.lease: 500 ms is too short: expected at least 1s "
                                       "(renewals come every second)");
  Diagnostics typo;
  CHECK_FALSE(load_host_config(dir.write("typo.yaml", "cluster: {leese: 2s}\n"), typo));
  REQUIRE(typo.size() == 1);
  CHECK_THAT(typo[0].format(), Catch::Contains("unknown key 'leese' in cluster, did you mean 'lease'?"));
}

TEST_CASE("host config: webhook_delivery, its defaults and a timeout out of range", "[config][host]") {
  test::TempDir dir;
  Diagnostics diagnostics;
  const auto defaults = load_host_config(dir.write("empty.yaml", ""), diagnostics);
  REQUIRE(defaults);
  CHECK(defaults->webhook_delivery.attempts == 8);
  CHECK(defaults->webhook_delivery.backoff == std::chrono::seconds(30));
  CHECK(defaults->webhook_delivery.max_backoff == std::chrono::hours(1));
  CHECK(defaults->webhook_delivery.timeout == std::chrono::seconds(10));

  const auto set = load_host_config(
      dir.write("set.yaml", "webhook_delivery: {attempts: 3, backoff: 5s, max_backoff: 2m, timeout: 20s}\n"), diagnostics);
  REQUIRE(diagnostics.empty());
  REQUIRE(set);
  CHECK(set->webhook_delivery.attempts == 3);
  CHECK(set->webhook_delivery.backoff == std::chrono::seconds(5));
  CHECK(set->webhook_delivery.max_backoff == std::chrono::minutes(2));
  CHECK(set->webhook_delivery.timeout == std::chrono::seconds(20));

  CHECK_FALSE(load_host_config(dir.write("long.yaml", "webhook_delivery:\n  timeout: 10m\n"), diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK_THAT(diagnostics[0].format(),
             Catch::Contains("long.yaml:2:12: error: webhook_delivery.timeout: 600000 ms: expected from 1s to 5m"));
  diagnostics.clear();
  CHECK_FALSE(load_host_config(dir.write("zero.yaml", "webhook_delivery: {attempts: 0}\n"), diagnostics));
  REQUIRE_FALSE(diagnostics.empty());
  CHECK_THAT(diagnostics[0].format(), Catch::Contains("webhook_delivery.attempts"));
}
