// The database test servers from C++ (tests/support/dbserver.py through db_server.hpp): each
// kind answers the app user's password login over TCP through its command-line client, and a
// DbServer that goes out of scope leaves no server process and no folder.
#include "db_server.hpp"

#include <signal.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>

using cronhost::test::DbKind;
using cronhost::test::DbLogin;
using cronhost::test::DbServer;
using cronhost::test::run_client;

TEST_CASE("Test database servers take the app user's password over TCP: SELECT 1 through psql and mariadb",
          "[db][db_server]") {
  for (const auto& [kind, scheme] : {std::pair{DbKind::postgres, "postgresql"}, std::pair{DbKind::mariadb, "mysql"}}) {
    const auto& server = DbServer::shared(kind).info();
    INFO(server.url);
    CHECK(server.url == std::string(scheme) + "://cronhost@127.0.0.1:" + std::to_string(server.port) + "/app");
    CHECK(server.user == "cronhost");
    CHECK(server.database == "app");

    const auto app = run_client(server, "SELECT 1", DbLogin::app_user);
    CHECK(app.err == "");
    CHECK(app.exit_code == 0);
    CHECK(app.out == "1\n");

    auto wrong = server;
    wrong.password = "not-" + server.password;
    const auto refused = run_client(wrong, "SELECT 1", DbLogin::app_user);
    CHECK(refused.exit_code != 0);
    CHECK_THAT(refused.err, Catch::Matchers::Contains("password authentication failed") ||
                                Catch::Matchers::Contains("Access denied"));

    CHECK(DbServer::shared(kind).sql("SELECT 1 + 1") == "2\n");  // superuser over the socket
  }
}

TEST_CASE("A test database server stops with its DbServer: no process, no folder", "[db][db_server]") {
  std::string dir;
  pid_t pid = 0;
  {
    DbServer server(DbKind::postgres);
    dir = server.info().dir;
    pid = server.info().pid;
    REQUIRE(std::filesystem::is_directory(dir));
    REQUIRE(::kill(pid, 0) == 0);
  }
  CHECK_FALSE(std::filesystem::exists(dir));
  errno = 0;
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
}

TEST_CASE("A test database server that cannot start is an exception with the reason, not a hang",
          "[db][db_server]") {
  // argparse refuses the auth plugin and exits before printing a line
  CHECK_THROWS_WITH(DbServer(DbKind::mariadb, {false, "no-such-plugin"}),
                    Catch::Matchers::Contains("exited before answering"));
}
