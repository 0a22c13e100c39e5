// The WAL write VFS (store/wal_write_vfs.hpp): a commit's frames leave in one write(), a write
// that fails fails its commit and nothing else, and what reaches the file is a WAL SQLite
// recovers whole, frame checksums included. Writes are counted by the kernel (/proc/self/io)
// and refused by the kernel (RLIMIT_FSIZE); copies of the files are opened by plain SQLite.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "../support/temp_dir.hpp"
#include "store/wal_write_vfs.hpp"

using cronhost::store::wal_write_vfs;
namespace fs = std::filesystem;

namespace {

constexpr int kTables = 6;

// A WAL database with tables t0..t5 that checkpoints only when told (the frames stay in the WAL).
std::unique_ptr<SQLite::Database> open_wal(const fs::path& path, const char* vfs) {
  auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                                               vfs ? vfs : "");
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("PRAGMA synchronous = NORMAL");
  db->exec("PRAGMA wal_autocheckpoint = 0");
  for (int i = 0; i < kTables; ++i) db->exec("CREATE TABLE IF NOT EXISTS t" + std::to_string(i) + " (n INTEGER, pad BLOB)");
  return db;
}

// write() calls this process made so far, counted by the kernel.
int64_t writes_so_far() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value)
    if (key == "syscw:") return value;
  FAIL("no syscw in /proc/self/io");
  return 0;
}

// The write() calls of one commit that writes a row into each table (six pages).
int64_t writes_of_a_commit(SQLite::Database& db, int n) {
  db.exec("BEGIN IMMEDIATE");
  for (int i = 0; i < kTables; ++i)
    db.exec("INSERT INTO t" + std::to_string(i) + " VALUES (" + std::to_string(n) + ", zeroblob(100))");
  const int64_t before = writes_so_far();
  db.exec("COMMIT");
  return writes_so_far() - before;
}

int64_t count(SQLite::Database& db, const std::string& sql) { return db.execAndGet(sql).getInt64(); }

// The rows of every table, summed in a way that changes with any lost or altered row.
int64_t fingerprint(SQLite::Database& db) {
  int64_t sum = 0;
  for (int i = 0; i < kTables; ++i)
    sum += count(db, "SELECT coalesce(sum(n * 31 + length(pad)), 0) + count(*) FROM t" + std::to_string(i));
  return sum;
}

// Copies the database and its WAL while `db` is still open (no checkpoint, no shared memory):
// opening the copy makes SQLite recover the WAL frame by frame, checking each checksum.
fs::path copy_with_wal(const fs::path& path, const fs::path& folder) {
  fs::create_directories(folder);
  fs::copy_file(path, folder / path.filename());
  fs::copy_file(path.string() + "-wal", (folder / path.filename()).string() + "-wal");
  return folder / path.filename();
}

// Checks that a copy of the files (copy_with_wal) is whole and holds what `db` reads.
void check_copy_recovers(const fs::path& path, const fs::path& folder, SQLite::Database& db) {
  SQLite::Database copy(copy_with_wal(path, folder).string());
  CHECK(copy.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(fingerprint(copy) == fingerprint(db));
}

// Sets RLIMIT_FSIZE for the scope (writes past it fail with EFBIG), SIGXFSZ ignored.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{bytes, saved_.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_);
  }

 private:
  rlimit saved_{};
  void (*previous_)(int) = nullptr;
};

}  // namespace

TEST_CASE("a commit's WAL frames leave in one write, where plain SQLite makes two per frame", "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  auto coalesced = open_wal(dir.path() / "coalesced.db", wal_write_vfs());
  auto plain = open_wal(dir.path() / "plain.db", nullptr);
  writes_of_a_commit(*coalesced, 0);  // the first commit also writes the WAL's header
  writes_of_a_commit(*plain, 0);

  const auto wal_before = fs::file_size(dir.path() / "coalesced.db-wal");
  CHECK(writes_of_a_commit(*coalesced, 1) == 1);
  const auto frames = (fs::file_size(dir.path() / "coalesced.db-wal") - wal_before) / (4096 + 24);
  CHECK(frames == kTables);
  CHECK(writes_of_a_commit(*plain, 1) == 2 * kTables);

  // What the commit wrote is in the file when it returns: plain SQLite recovers it from a copy.
  check_copy_recovers(dir.path() / "coalesced.db", dir.path() / "copy", *coalesced);
}

TEST_CASE("whatever a commit's size, its frames are all in the file when it returns", "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto db = open_wal(path, wal_write_vfs());
  const auto wal_path = path.string() + "-wal";
  // 1 to 40 pages a commit: the commit frame falls on each side of the 64 KiB a write holds.
  for (int pages = 1; pages <= 40; ++pages) {
    db->exec("INSERT INTO t0 VALUES (" + std::to_string(pages) + ", zeroblob(" + std::to_string(pages * 4000) + "))");
    INFO(pages << " pages");
    REQUIRE((fs::file_size(wal_path) - 32) % (4096 + 24) == 0);  // no frame or part of one held back
  }
  check_copy_recovers(path, dir.path() / "copy", *db);
}

TEST_CASE("a transaction larger than the cache and the write buffer is in the WAL whole, checksums rewritten",
          "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto db = open_wal(path, wal_write_vfs());
  db->exec("PRAGMA cache_size = 8");  // pages spill to the WAL mid-transaction and are read back
  db->exec("BEGIN IMMEDIATE");
  SQLite::Statement insert(*db, "INSERT INTO t0 VALUES (?, zeroblob(600))");
  for (int n = 0; n < 2000; ++n) {
    insert.bind(1, n);
    insert.exec();
    insert.reset();
  }
  // Pages spilled above are written again: SQLite overwrites their frames in place, then
  // reads the transaction's frames back to rewrite the checksum chain.
  db->exec("UPDATE t0 SET n = n + 1 WHERE n % 3 = 0");
  db->exec("COMMIT");
  CHECK(fs::file_size(path.string() + "-wal") > 1024 * 1024);
  CHECK(count(*db, "SELECT count(*) FROM t0") == 2000);
  check_copy_recovers(path, dir.path() / "copy", *db);
}

TEST_CASE("a WAL write the kernel refuses fails its own commit only: earlier ones stay, later ones go on",
          "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto db = open_wal(path, wal_write_vfs());
  writes_of_a_commit(*db, 1);
  const int64_t committed = fingerprint(*db);
  {
    // Room for a frame or two more: the commit's one write goes past the limit.
    FileSizeLimit limit(fs::file_size(path.string() + "-wal") + 6000);
    CHECK_THROWS_WITH(writes_of_a_commit(*db, 2), Catch::Contains("disk I/O error") || Catch::Contains("full"));
    if (!sqlite3_get_autocommit(db->getHandle())) db->exec("ROLLBACK");
  }
  CHECK(fingerprint(*db) == committed);
  writes_of_a_commit(*db, 3);  // the same connection commits again over the frames that failed

  CHECK(count(*db, "SELECT count(*) FROM t0 WHERE n = 2") == 0);
  CHECK(count(*db, "SELECT count(*) FROM t0 WHERE n IN (1, 3)") == 2);
  check_copy_recovers(path, dir.path() / "copy", *db);
}
