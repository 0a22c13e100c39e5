// Test helper: a fresh PostgreSQL database per test on a DbServer (tests/unit/support/db_server.hpp),
// owned by the app user, and one-value queries on it through libpq (whose headers stay in the
// .cpp). Not thread-safe: use from the test's main thread.
#pragma once
#include <string>

#include "config/host_config.hpp"
#include "db_server.hpp"

namespace cronhost::test {

// How the state store reaches `database` on `server`: the app user's URL and password.
config::DatabaseSettings pg_settings(const DbServerInfo& server, const std::string& database);

// CREATE DATABASE t<n> on `server` (default: the shared one): empty, or (migrated) a copy of a
// template database migrated once per process, which costs ~50 ms instead of a migration.
config::DatabaseSettings fresh_pg_database(bool migrated = true);
config::DatabaseSettings fresh_pg_database_on(DbServer& server, bool migrated = true);

// The first column of the first row of `sql` as text ("" for NULL or no row), run as the app
// user; throws std::runtime_error with the server's message.
std::string pg_query(const config::DatabaseSettings& settings, const std::string& sql);

}  // namespace cronhost::test
