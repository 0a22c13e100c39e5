// The WAL write VFS (store/wal_write_vfs.hpp): a commit's frames leave in one write(), a write
// that fails fails its commit and nothing else, and what reaches the file is a WAL SQLite
// recovers whole, frame checksums included. Writes are counted by the kernel (/proc/self/io)
// and refused by the kernel (RLIMIT_FSIZE); copies of the files are opened by plain SQLite.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>
#include <sys/mount.h>
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

// Inserts `rows` rows of 600 bytes into t0 inside a transaction left open, on a connection
// with an 8-page cache: pages spill to the WAL as frames of no commit.
void spill_in_open_transaction(SQLite::Database& db, int rows) {
  db.exec("PRAGMA cache_size = 8");
  db.exec("BEGIN IMMEDIATE");
  SQLite::Statement insert(db, "INSERT INTO t0 VALUES (?, zeroblob(600))");
  for (int n = 0; n < rows; ++n) {
    insert.bind(1, 1000 + n);
    insert.exec();
    insert.reset();
  }
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

TEST_CASE("a WAL another connection restarted still gets a commit's frames in one write", "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto db = open_wal(path, wal_write_vfs());
  for (int n = 0; n < 5; ++n) writes_of_a_commit(*db, n);  // the WAL's end is far along
  db->exec("PRAGMA wal_checkpoint(PASSIVE)");            // every frame copied: the next writer restarts it
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  other.exec("INSERT INTO t1 VALUES (7, zeroblob(10))");  // frames from the WAL's start again
  CHECK(writes_of_a_commit(*db, 9) == 1);
  check_copy_recovers(path, dir.path() / "copy", *db);
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
  spill_in_open_transaction(*db, 2000);  // spilled pages are also read back
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

TEST_CASE("frames spilled by a transaction rolled back never land over another connection's commit",
          "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto db = open_wal(path, wal_write_vfs());
  SQLite::Database other(path.string(), SQLite::OPEN_READWRITE);
  // The pages the rollback reads again are then in the database file, not in the WAL.
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  spill_in_open_transaction(*db, 300);
  db->exec("ROLLBACK");
  for (int n = 0; n < 20; ++n)  // frames where the spilled ones were
    other.exec("INSERT INTO t1 VALUES (" + std::to_string(n) + ", zeroblob(3000))");
  CHECK(count(*db, "SELECT count(*) FROM t1") == 20);  // the writer reads the WAL again
  db->exec("INSERT INTO t2 VALUES (1, zeroblob(10))");
  CHECK(other.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(fingerprint(other) == fingerprint(*db));
  check_copy_recovers(path, dir.path() / "copy", *db);
}

TEST_CASE("with synchronous FULL, 1 KiB pages and no powersafe overwrite, a commit's padding is in the file",
          "[store][wal_vfs]") {
  cronhost::test::TempDir dir;
  const auto path = dir.path() / "state.db";
  // SQLite pads each commit to the 4 KiB sector with copies of its last frame, splitting a
  // frame at the sector's end; the split can leave a 24-byte write that is no frame header.
  SQLite::Database db("file:" + path.string() + "?psow=0",
                      SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLITE_OPEN_URI, 0, wal_write_vfs());
  db.exec("PRAGMA page_size = 1024");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA wal_autocheckpoint = 0");
  db.exec("CREATE TABLE t0 (n INTEGER, pad BLOB)");
  const auto wal_path = path.string() + "-wal";
  for (int n = 0; n < 600; ++n) {
    db.exec("INSERT INTO t0 VALUES (" + std::to_string(n) + ", zeroblob(" + std::to_string(n % 7 * 300) + "))");
    INFO("commit " << n);
    REQUIRE((fs::file_size(wal_path) - 32) % (1024 + 24) == 0);
  }
}

namespace {

// A 4 MiB tmpfs mounted on a fresh folder for the scope (root only), so a disk can really fill.
class SmallDisk {
 public:
  SmallDisk() : mounted_(::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=4m") == 0) {}
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const fs::path& path() const { return dir_.path(); }
  // Takes every free byte into a file of its own; free() gives them back.
  void fill() {
    std::ofstream filler(path() / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size())) {
    }
  }
  void free() { fs::remove(path() / "filler"); }

 private:
  cronhost::test::TempDir dir_;
  bool mounted_;
};

}  // namespace

TEST_CASE("a full disk found while spilled frames wait fails the whole transaction, not one statement",
          "[store][wal_vfs]") {
  SmallDisk disk;
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs (needs root): the full-disk case is left to tests/integration/test_state_file.py");
    return;
  }
  const auto path = disk.path() / "state.db";
  auto db = open_wal(path, wal_write_vfs());
  db->exec("CREATE TABLE u (n INTEGER UNIQUE)");  // a statement that may break it has a journal of its own
  writes_of_a_commit(*db, 1);
  spill_in_open_transaction(*db, 300);
  disk.fill();
  // The frames held go out at the statement's first read of the WAL or with its next spill, and
  // the disk refuses them. SQLITE_FULL from a read would undo this statement alone (it has a
  // statement journal) and the COMMIT below would publish frames never written.
  CHECK_THROWS(db->exec("INSERT INTO u SELECT n FROM t0"));
  disk.free();
  try {
    db->exec("COMMIT");
  } catch (const std::exception&) {
  }
  if (!sqlite3_get_autocommit(db->getHandle())) db->exec("ROLLBACK");
  CHECK(db->execAndGet("PRAGMA integrity_check").getString() == "ok");
  const int64_t rows = count(*db, "SELECT count(*) FROM t0");
  CHECK((rows == 1 || rows == 301));  // all of the transaction or none of it
  cronhost::test::TempDir copy;
  check_copy_recovers(path, copy.path(), *db);
}
