// The state store's backends for the contract tests (design section 4): each test of the
// contract runs once per backend, written against these. Every backend gives:
//   open()               a daemon's store (migrated, host lock taken)
//   reopen()             the same, again (after the previous one was closed)
//   second_connection()  the command line's store beside the daemon (open_client / kClient)
//   scalar(sql)          a count or one value, read on a connection of its own
//   execute(sql)         a change the test makes on a connection of its own (a fault: a trigger)
// SqliteBackend: a file in a temporary folder. PgBackend: a fresh database on the test
// process's PostgreSQL 15 (DbServer::shared), copied from a template migrated once.
#pragma once
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <string>

#include "../support/pg_database.hpp"
#include "../support/temp_dir.hpp"
#include "store/open_store.hpp"
#include "store/pg_store.hpp"
#include "store/state_store.hpp"

namespace cronhost::test {

struct SqliteBackend {
  TempDir dir;
  std::filesystem::path path = dir.path() / "state.db";

  std::unique_ptr<store::Store> open() { return store::Store::open(path).value(); }
  std::unique_ptr<store::Store> reopen() { return open(); }
  std::unique_ptr<store::Store> second_connection() { return store::Store::open_client(path).value(); }
  // Both wait for the host's write lock, as another process would (a commit holds it briefly).
  int64_t scalar(const std::string& sql) const {
    SQLite::Database db(path.string(), SQLite::OPEN_READONLY, 5000);
    return db.execAndGet(sql).getInt64();
  }
  void execute(const std::string& sql) const {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE, 5000);
    db.exec(sql);
  }
};

struct PgBackend {
  config::DatabaseSettings settings = fresh_pg_database();

  // A 2 s lease: a dead host's runs are reaped within seconds, as the scheduler tests wait.
  std::unique_ptr<store::Store> open() {
    return store::open_pg_store(settings, store::OpenMode::kDaemon, std::chrono::seconds(2)).value();
  }
  std::unique_ptr<store::Store> reopen() { return open(); }
  std::unique_ptr<store::Store> second_connection() {
    return store::open_pg_store(settings, store::OpenMode::kClient).value();
  }
  int64_t scalar(const std::string& sql) const { return std::stoll(pg_query(settings, sql)); }
  void execute(const std::string& sql) const { pg_query(settings, sql); }
};

}  // namespace cronhost::test

// A test of the store's contract, run once per backend: "<name> - sqlite" with `tags`, and
// "<name> - postgres" with `tags` and [db] (so `make test-db` runs the PostgreSQL ones and
// only the runs that need a server carry the tag). Inside, `Backend` is the backend's type.
// (TEMPLATE_TEST_CASE gives every instance the same tags.)
#define STORE_CONTRACT_TEST(name, tags) STORE_CONTRACT_TEST_IMPL(INTERNAL_CATCH_UNIQUE_NAME(store_contract_), name, tags)
#define STORE_CONTRACT_TEST_IMPL(body, name, tags)                                   \
  template <typename Backend>                                                      \
  static void body();                                                              \
  TEST_CASE(name " - sqlite", tags) { body<cronhost::test::SqliteBackend>(); }     \
  TEST_CASE(name " - postgres", tags "[db]") { body<cronhost::test::PgBackend>(); } \
  template <typename Backend>                                                      \
  static void body()
