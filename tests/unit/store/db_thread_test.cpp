// The database thread's promises when the state file cannot be written: posted writes are kept
// and retried (never dropped), waited-for calls get the error, a stop still drains within its
// deadline, and health() tells while commits fail. The failures are real SQLite ones: another
// connection holding the write lock (SQLITE_BUSY) and a page limit (SQLITE_FULL).
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "../support/temp_dir.hpp"
#include "store/db_thread.hpp"

using namespace cronhost::store;
using namespace std::chrono_literals;

namespace {

// A WAL database with table t(n, pad) whose writer gives up on a held lock after 50 ms.
std::unique_ptr<SQLite::Database> open_writer(const std::filesystem::path& path) {
  auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("CREATE TABLE IF NOT EXISTS t (n INTEGER, pad BLOB)");
  db->exec("PRAGMA busy_timeout = 50");
  return db;
}

void post_insert(DbThread& thread, int n, int pad_bytes = 0) {
  thread.post([n, pad_bytes](SQLite::Database& db) {
    SQLite::Statement q(db, "INSERT INTO t (n, pad) VALUES (?, zeroblob(?))");
    q.bind(1, n);
    q.bind(2, pad_bytes);
    q.exec();
  });
}

int rows(const std::filesystem::path& path) {
  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM t").getInt();
}

}  // namespace

TEST_CASE("posted writes of a batch whose commit failed are retried, not dropped", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  {
    auto thread = std::make_unique<DbThread>(open_writer(path), true);
    SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
    other.exec("BEGIN IMMEDIATE");  // the writer's BEGIN IMMEDIATE now fails with SQLITE_BUSY
    for (int i = 0; i < 10; ++i) post_insert(*thread, i);
    thread->flush();  // the batch was tried (and failed)
    other.exec("COMMIT");
    thread.reset();  // a clean stop
  }
  CHECK(rows(path) == 10);
}

TEST_CASE("writes that fail inside the transaction (disk full) are retried once there is room", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  // No page beyond the current ones: the inserts fail with SQLITE_FULL, as on a full disk.
  thread.call([](SQLite::Database& db) {
    const int pages = db.execAndGet("PRAGMA page_count").getInt();
    db.exec("PRAGMA max_page_count = " + std::to_string(pages));
  });
  for (int i = 0; i < 20; ++i) post_insert(thread, i, 8192);
  thread.flush();
  CHECK(thread.call([](SQLite::Database& db) { return db.execAndGet("SELECT count(*) FROM t").getInt(); }) == 0);
  thread.call([](SQLite::Database& db) { db.exec("PRAGMA max_page_count = 1000000"); });
  CHECK(thread.call([](SQLite::Database& db) { return db.execAndGet("SELECT count(*) FROM t").getInt(); }) == 20);
}

TEST_CASE("a kept statement that failed does not fail the next write made with it", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  thread.call([](SQLite::Database& db) { db.exec("CREATE TABLE u (x INTEGER UNIQUE)"); });
  // The second insert is refused (a constraint, not worth a retry); the third, made with the
  // same kept statement, must not get that error again (SQLite's reset repeats it).
  for (int x : {1, 1, 2})
    thread.post([&thread, x](SQLite::Database&) {
      SQLite::Statement& q = thread.statement("INSERT INTO u (x) VALUES (?)");
      q.bind(1, x);
      q.exec();
    });
  thread.flush();
  CHECK(thread.call([](SQLite::Database& db) { return db.execAndGet("SELECT group_concat(x) FROM u").getString(); }) ==
        "1,2");
}

TEST_CASE("a waited-for call in a failing batch gets the error", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  CHECK_THROWS_WITH(thread.call([](SQLite::Database& db) { db.exec("INSERT INTO t (n) VALUES (1)"); }),
                    Catch::Contains("locked"));
  other.exec("COMMIT");
  thread.call([](SQLite::Database& db) { db.exec("INSERT INTO t (n) VALUES (2)"); });
  CHECK(rows(path) == 1);  // the failed call is not retried: its caller was told
}

TEST_CASE("a call made while the database thread is free runs on the caller's thread, after the writes queued before it", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  for (int i = 0; i < 5; ++i) post_insert(thread, i);
  // Whichever thread commits the posts, the call sees them: they were queued first.
  CHECK(thread.call([](SQLite::Database& db) { return db.execAndGet("SELECT count(*) FROM t").getInt(); }) == 5);
  thread.flush();  // nothing queued: the database thread holds nothing
  CHECK(thread.call([](SQLite::Database&) { return std::this_thread::get_id(); }) == std::this_thread::get_id());
  post_insert(thread, 5);
  thread.call([](SQLite::Database&) {});
  CHECK(rows(path) == 6);  // committed before the call returned, by whichever thread ran it
}

TEST_CASE("a call whose function throws anything gets it back, and the connection is free again", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  CHECK_THROWS_AS(thread.call([](SQLite::Database&) -> int { throw 42; }), int);
  post_insert(thread, 1);
  CHECK(thread.call([](SQLite::Database& db) { return db.execAndGet("SELECT count(*) FROM t").getInt(); }) == 1);
}

TEST_CASE("a posted write that throws something not a std::exception is dropped, not retried forever", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  thread.post([](SQLite::Database&) { throw 42; });
  post_insert(thread, 1);
  thread.flush();
  CHECK(thread.health().retained == 0);
  CHECK(thread.health().failed_commits == 0);
  CHECK(rows(path) == 1);
}

TEST_CASE("while writes wait for a retry, calls run on the database thread, in a transaction of their own", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  thread.call([](SQLite::Database& db) {  // no page beyond the current ones: big inserts fail with SQLITE_FULL
    db.exec("PRAGMA max_page_count = " + std::to_string(db.execAndGet("PRAGMA page_count").getInt()));
  });
  post_insert(thread, 1, 8192);
  thread.flush();
  REQUIRE(thread.health().retained == 1);
  const auto ran_on = thread.call([](SQLite::Database&) { return std::this_thread::get_id(); });
  CHECK(ran_on != std::this_thread::get_id());
  thread.call([](SQLite::Database& db) { db.exec("PRAGMA max_page_count = 1000000"); });
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (thread.health().retained != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(rows(path) == 1);
}

TEST_CASE("posted writes in a call's failed transaction are kept and retried, and the call gets the error", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  for (int i = 0; i < 3; ++i) post_insert(thread, i);
  // Whoever commits the posts (the call on this thread, or the database thread first), both fail.
  CHECK_THROWS_WITH(thread.call([](SQLite::Database& db) { db.exec("INSERT INTO t (n) VALUES (100)"); }),
                    Catch::Contains("locked"));
  other.exec("COMMIT");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rows(path) < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(rows(path) == 3);  // the posts, once each; not the failed call
  thread.flush();
  CHECK(thread.health().retained == 0);
}

TEST_CASE("calls and posts from many threads at once: each write lands once", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  {
    DbThread thread(open_writer(path), true);
    std::vector<std::thread> threads;
    std::atomic<int> calls_here{0};
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) {
          post_insert(thread, t * 10'000 + i);
          const auto on = thread.call([t, i](SQLite::Database& db) {
            SQLite::Statement q(db, "INSERT INTO t (n) VALUES (?)");
            q.bind(1, -(t * 10'000 + i) - 1);
            q.exec();
            return std::this_thread::get_id();
          });
          calls_here += on == std::this_thread::get_id();
        }
      });
    for (auto& t : threads) t.join();
    CHECK(calls_here > 0);
  }
  SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM t").getInt() == 4000);
  CHECK(db.execAndGet("SELECT count(DISTINCT n) FROM t").getInt() == 4000);
}

TEST_CASE("health() tells while commits fail and clears after the retry commits", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true);
  CHECK(thread.health().failed_commits == 0);
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  for (int i = 0; i < 3; ++i) post_insert(thread, i);
  thread.flush();
  const auto failing = thread.health();
  CHECK(failing.failed_commits >= 1);
  CHECK(failing.retained == 3);
  CHECK_THAT(failing.last_error, Catch::Contains("locked"));
  CHECK(failing.failing_since_ms > 0);
  other.exec("COMMIT");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (thread.health().retained != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(thread.health().retained == 0);
  CHECK(rows(path) == 3);
  // The streak ends with a write that succeeds 5 s after the last failure, not at the first
  // success (a nearly full disk takes small writes and refuses big ones).
  CHECK(thread.health().failed_commits >= 1);
  std::this_thread::sleep_for(5s);
  post_insert(thread, 3);
  thread.flush();
  CHECK(thread.health().failed_commits == 0);
  CHECK(thread.health().failing_since_ms == 0);
}

TEST_CASE("the retained writes are bounded: the oldest beyond the limit are counted as lost", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true, {.stop_deadline = 1s, .max_retained = 4});
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  for (int i = 0; i < 10; ++i) post_insert(thread, i);
  thread.flush();
  CHECK(thread.health().retained == 4);
  CHECK(thread.health().lost == 6);
  other.exec("COMMIT");
  thread.flush();
  thread.call([](SQLite::Database&) {});
  thread.call([](SQLite::Database&) {});
  SQLite::Database check(path.string(), SQLite::OPEN_READONLY);
  CHECK(check.execAndGet("SELECT group_concat(n) FROM (SELECT n FROM t ORDER BY n)").getString() == "6,7,8,9");
}

TEST_CASE("a stop waits for the state file to take the writes, up to its deadline", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  auto thread = std::make_unique<DbThread>(open_writer(path), true, DbThread::Limits{.stop_deadline = 400ms});
  other.exec("BEGIN IMMEDIATE");
  for (int i = 0; i < 5; ++i) post_insert(*thread, i);
  thread->flush();

  SECTION("the lock goes away during the stop: everything is written") {
    std::thread stopper([&] { thread.reset(); });
    std::this_thread::sleep_for(150ms);
    other.exec("COMMIT");
    stopper.join();
    CHECK(rows(path) == 5);
  }
  SECTION("the lock stays: the stop ends at its deadline") {
    const auto started = std::chrono::steady_clock::now();
    thread.reset();
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    other.exec("COMMIT");
    CHECK(rows(path) == 0);
  }
}

TEST_CASE("a WAL past the limit is truncated between batches, even after a reader held it back", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  const auto wal = dir.path() / "state.db-wal";
  const uint64_t limit = uint64_t{256} << 10;
  const uint64_t unbounded = 0;
  for (const uint64_t wal_limit : {unbounded, limit}) {
    INFO("wal_limit_bytes " << wal_limit);
    std::filesystem::remove(path);
    std::filesystem::remove(wal);
    DbThread thread(open_writer(path), true, {.wal_limit_bytes = wal_limit});
    post_insert(thread, 0);
    thread.flush();
    // A reader on an old snapshot: no checkpoint can pass it, so the WAL grows (~1 MiB).
    SQLite::Database reader(path.string(), SQLite::OPEN_READONLY);
    reader.exec("BEGIN");
    CHECK(reader.execAndGet("SELECT count(*) FROM t").getInt() == 1);
    for (int i = 1; i <= 64; ++i) post_insert(thread, i, 16 << 10);
    thread.flush();
    CHECK(std::filesystem::file_size(wal) > limit);
    reader.exec("COMMIT");
    // The writer looks at the WAL at most once a second, between batches.
    std::this_thread::sleep_for(1100ms);
    post_insert(thread, 65);
    thread.flush();
    thread.call([](SQLite::Database&) {});
    if (wal_limit == unbounded) CHECK(std::filesystem::file_size(wal) > limit);  // the old way: the file stays at its peak
    else CHECK(std::filesystem::file_size(wal) < limit);
    CHECK(rows(path) == 66);
  }
}

TEST_CASE("the WAL is copied into the database file off the writer, before the writer's own checkpoint", "[store][db_thread]") {
  // ~600 frames: below the 1,000 at which SQLite's automatic checkpoint starts and the
  // writer's own restart point, so only a background checkpoint can have put the rows into
  // the database file.
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  for (const bool background : {false, true}) {
    INFO("checkpoint_in_background " << background);
    std::filesystem::remove(path);
    std::filesystem::remove(dir.path() / "state.db-wal");
    DbThread thread(open_writer(path), true, {.checkpoint_in_background = background});
    const auto file_before = std::filesystem::file_size(path);
    for (int i = 0; i < 150; ++i) {
      post_insert(thread, i, 16 << 10);
      if (i % 10 == 9) thread.flush();  // several commits, as a host under load makes
    }
    thread.flush();
    auto copied_into_file = [&] { return std::filesystem::file_size(path) > file_before + (2u << 20); };
    for (int waited = 0; waited < 200 && !copied_into_file(); ++waited) std::this_thread::sleep_for(10ms);
    CHECK(copied_into_file() == background);
    CHECK((thread.frames_checkpointed_in_background() >= 512) == background);
    CHECK(rows(path) == 150);
  }
}

TEST_CASE("with the background checkpointer the WAL still restarts: it stays bounded under steady writes", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  // Restarting from 1,000 frames (~4 MiB): ~40 MiB written in 2,500 commits would all stay in
  // a WAL that never restarts.
  DbThread thread(open_writer(path), true, {.checkpoint_in_background = true, .wal_restart_frames = 1000});
  for (int i = 0; i < 2500; ++i) {
    post_insert(thread, i, 16 << 10);
    thread.call([](SQLite::Database&) {});
  }
  CHECK(std::filesystem::file_size(dir.path() / "state.db-wal") < (12u << 20));
  CHECK(thread.frames_checkpointed_in_background() > 0);
  CHECK(rows(path) == 2500);
}

TEST_CASE("with calls alone the WAL still restarts: a call that finds the restart due goes to the database thread", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  DbThread thread(open_writer(path), true, {.checkpoint_in_background = true, .wal_restart_frames = 1000});
  int ran_elsewhere = 0;
  for (int i = 0; i < 2500; ++i) {
    const auto on = thread.call([i](SQLite::Database& db) {
      SQLite::Statement q(db, "INSERT INTO t (n, pad) VALUES (?, zeroblob(16384))");
      q.bind(1, i);
      q.exec();
      return std::this_thread::get_id();
    });
    ran_elsewhere += on != std::this_thread::get_id();
  }
  CHECK(ran_elsewhere > 0);  // the calls that found the restart due
  CHECK(ran_elsewhere < 500);
  CHECK(std::filesystem::file_size(dir.path() / "state.db-wal") < (12u << 20));
  CHECK(rows(path) == 2500);
}

TEST_CASE("while commits fail, a WAL past 4 MiB is truncated: on a full disk its space may be what they lack", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  const auto wal = dir.path() / "state.db-wal";
  DbThread thread(open_writer(path), true, {.wal_limit_bytes = uint64_t{64} << 20, .checkpoint_in_background = true});
  for (int i = 0; i < 600; ++i) post_insert(thread, i, 16 << 10);  // ~10 MiB: below the restart point
  thread.flush();
  REQUIRE(std::filesystem::file_size(wal) > (8u << 20));
  thread.call([](SQLite::Database& db) {  // no page beyond the current ones: SQLITE_FULL, as on a full disk
    db.exec("PRAGMA max_page_count = " + std::to_string(db.execAndGet("PRAGMA page_count").getInt()));
  });
  post_insert(thread, 600, 16 << 10);
  for (int waited = 0; waited < 300 && std::filesystem::file_size(wal) > (4u << 20); ++waited)
    std::this_thread::sleep_for(10ms);
  CHECK(thread.health().failed_commits > 0);
  CHECK(std::filesystem::file_size(wal) <= (4u << 20));
  thread.call([](SQLite::Database& db) { db.exec("PRAGMA max_page_count = 1000000"); });
  for (int waited = 0; waited < 300 && rows(path) < 601; ++waited) std::this_thread::sleep_for(10ms);
  CHECK(rows(path) == 601);  // the write kept while failing went in once there was room
}

TEST_CASE("the WAL of a state file given as a symlink is bounded too: it lies beside the target", "[store][db_thread]") {
  cronhost::test::TempDir dir;
  std::filesystem::create_directory(dir.path() / "real");
  const auto target = dir.path() / "real" / "state.db";
  const auto link = dir.path() / "state.db";
  open_writer(target);  // creates it
  std::filesystem::create_symlink(target, link);
  DbThread thread(open_writer(link), true, {.wal_limit_bytes = uint64_t{256} << 10});
  for (int i = 0; i < 64; ++i) post_insert(thread, i, 16 << 10);  // ~1 MiB: below SQLite's own restart point
  thread.flush();
  const auto wal = dir.path() / "real" / "state.db-wal";
  REQUIRE(std::filesystem::file_size(wal) > (256u << 10));
  std::this_thread::sleep_for(1100ms);  // the writer looks at the WAL at most once a second
  post_insert(thread, 64);
  thread.flush();
  thread.call([](SQLite::Database&) {});
  CHECK(std::filesystem::file_size(wal) < (256u << 10));
  CHECK(!std::filesystem::exists(dir.path() / "state.db-wal"));
}
