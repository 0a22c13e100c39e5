// What a SIGHUP of the host config applies at once and what it leaves for a restart.
#include <catch2/catch.hpp>

#include <functional>

#include "config/host_config_changes.hpp"

using namespace cronhost::config;
using Keys = std::vector<std::string>;

TEST_CASE("a reload names the keys it applies and those that need a restart", "[config][reload]") {
  HostConfig running;
  running.smtp = SmtpSettings{.host = "relay.acme.test", .port = 25, .from = "cron@acme.test"};
  running.databases["app"] = DatabaseSettings{.sqlite = "/srv/app.db"};
  running.server.tokens = {ApiToken{"alice", Role::kAdmin, "0123456789abcdef"}};

  SECTION("nothing changed") {
    const auto changes = compare_host_configs(running, running);
    CHECK(changes.applied.empty());
    CHECK(changes.need_restart.empty());
  }
  SECTION("the SMTP port, a database and a token apply at once") {
    HostConfig next = running;
    next.smtp->port = 2525;
    next.databases["app"].readonly = true;
    next.server.tokens[0].token = "fedcba9876543210";
    const auto changes = compare_host_configs(running, next);
    CHECK(changes.applied == Keys{"smtp", "databases", "server.tokens"});
    CHECK(changes.need_restart.empty());
  }
  SECTION("a server database's URL, password, TLS or timeout applies at once") {
    running.databases["pg"] = DatabaseSettings{.engine = DbEngine::kPostgresql, .url = "postgresql://cron@db/app", .password = "one-secret"};
    for (const auto& change : std::vector<std::function<void(DatabaseSettings&)>>{
             [](DatabaseSettings& d) { d.url = "postgresql://cron@db2/app"; },
             [](DatabaseSettings& d) { d.password = "two-secret"; },
             [](DatabaseSettings& d) { d.tls.mode = "verify-full"; },
             [](DatabaseSettings& d) { d.tls.ca = "/etc/ca.pem"; },
             [](DatabaseSettings& d) { d.connect_timeout = std::chrono::seconds(1); },
             [](DatabaseSettings& d) { d.engine = DbEngine::kMysql; }}) {
      HostConfig next = running;
      change(next.databases["pg"]);
      CHECK(compare_host_configs(running, next).applied == Keys{"databases"});
    }
  }
  SECTION("smtp removed, registries and http changed") {
    HostConfig next = running;
    next.smtp.reset();
    next.registries["ghcr.io"] = RegistrySettings{"https://ghcr.io", "bot", "pw"};
    next.http.max_redirects = 2;
    CHECK(compare_host_configs(running, next).applied == Keys{"smtp", "registries", "http"});
  }
  SECTION("webhook_delivery changed: the webhook outbox restarts with it") {
    HostConfig next = running;
    next.webhook_delivery.attempts = 2;
    CHECK(compare_host_configs(running, next).applied == Keys{"webhook_delivery"});
    next = running;
    next.webhook_delivery.timeout = std::chrono::seconds(3);
    CHECK(compare_host_configs(running, next).applied == Keys{"webhook_delivery"});
  }
  SECTION("workers, the listen address and the log wait for a restart") {
    HostConfig next = running;
    next.workers = running.workers + 1;
    next.server.port = 9090;
    next.log.level = "debug";
    next.history_keep_days = 7;
    const auto changes = compare_host_configs(running, next);
    CHECK(changes.applied == Keys{"history"});
    CHECK(changes.need_restart == Keys{"workers", "log", "server.listen"});
  }
}
