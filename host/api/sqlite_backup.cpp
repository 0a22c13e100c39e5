#include "api/sqlite_backup.hpp"

#include <memory>
#include <sqlite3.h>

#include "api/file_ops.hpp"

namespace cronhost::api {
namespace {

// 256 pages (1 MiB at the default 4 KiB page) per step: the source's lock is held for one
// step only, and the deadline is looked at between steps.
constexpr int kPagesPerStep = 256;

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

}  // namespace

Result<BackupStats> backup_sqlite(sqlite3* source, const std::filesystem::path& dest,
                                  const std::function<bool()>& keep_going) {
  auto file = TempFile::create(dest);
  if (!file) return Result<BackupStats>::error(file.message());
  file.value().close_descriptor();  // SQLite opens it by name; an empty file is an empty database
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(file.value().path().c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, Closer> copy(raw);
  if (opened != SQLITE_OK) return Result<BackupStats>::error(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(opened));
  // A failed copy is deleted, never rolled back, so it needs no journal.
  sqlite3_exec(copy.get(), "PRAGMA journal_mode = OFF", nullptr, nullptr, nullptr);

  sqlite3_backup* backup = sqlite3_backup_init(copy.get(), "main", source, "main");
  if (!backup) return Result<BackupStats>::error(sqlite3_errmsg(copy.get()));
  int step = SQLITE_OK;
  while (step == SQLITE_OK) {
    if (!keep_going()) {
      sqlite3_backup_finish(backup);
      return Result<BackupStats>::error("stopped");
    }
    step = sqlite3_backup_step(backup, kPagesPerStep);
  }
  BackupStats stats;
  stats.pages = sqlite3_backup_pagecount(backup);
  if (sqlite3_backup_finish(backup) != SQLITE_OK || step != SQLITE_DONE)
    return Result<BackupStats>::error(step == SQLITE_DONE ? sqlite3_errmsg(copy.get()) : sqlite3_errstr(step));
  copy.reset();  // closed before it is renamed into place
  if (auto committed = file.value().commit(); !committed) return Result<BackupStats>::error(committed.message());
  std::error_code ec;
  stats.bytes = std::filesystem::file_size(dest, ec);
  return stats;
}

}  // namespace cronhost::api
