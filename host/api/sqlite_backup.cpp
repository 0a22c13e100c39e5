#include "api/sqlite_backup.hpp"

#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <sqlite3.h>
#include <sys/stat.h>

#include "api/file_ops.hpp"

namespace cronhost::api {
namespace {

// 256 pages (1 MiB at the default 4 KiB page) per step: the source's lock is held for one
// step only, and the deadline is looked at between steps.
constexpr int kPagesPerStep = 256;

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

constexpr char kProcFd[] = "/proc/self/fd/";
sqlite3_vfs g_through_fd;
int (*g_unix_full_pathname)(sqlite3_vfs*, const char*, int, char*) = nullptr;

// SQLite's unix VFS turns a name into a full path by reading every symlink in it, which
// would turn /proc/self/fd/N/x back into the folder's path and open that by name: the
// lookup this file avoids. Names under /proc/self/fd stay as they are, so the kernel
// resolves them through the descriptor.
int keep_fd_names(sqlite3_vfs* vfs, const char* name, int out_size, char* out) {
  if (std::strncmp(name, kProcFd, sizeof kProcFd - 1) != 0) return g_unix_full_pathname(vfs, name, out_size, out);
  if (static_cast<int>(std::strlen(name)) >= out_size) return SQLITE_CANTOPEN;
  sqlite3_snprintf(out_size, out, "%s", name);
  return SQLITE_OK;
}

// The default unix VFS with keep_fd_names, registered once under its own name (not as the
// default, so nothing else changes).
const char* through_fd_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find("unix");
    if (!unix_vfs) return;
    g_through_fd = *unix_vfs;
    g_through_fd.zName = "cronhost-through-fd";
    g_through_fd.pNext = nullptr;
    g_unix_full_pathname = unix_vfs->xFullPathname;
    g_through_fd.xFullPathname = keep_fd_names;
    sqlite3_vfs_register(&g_through_fd, 0);
  });
  return g_unix_full_pathname ? "cronhost-through-fd" : nullptr;
}

}  // namespace

Result<BackupStats> backup_sqlite(sqlite3* source, int dest_folder, const std::string& dest_name,
                                  const std::function<bool()>& keep_going) {
  const char* vfs = through_fd_vfs();
  if (!vfs) return Result<BackupStats>::error("SQLite has no unix VFS");
  auto file = TempFile::create(dest_folder, dest_name);
  if (!file) return Result<BackupStats>::error(file.message());
  file.value().close_descriptor();  // SQLite opens it by name; an empty file is an empty database
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(file.value().proc_path().c_str(), &raw, SQLITE_OPEN_READWRITE, vfs);
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
  struct stat st {};
  if (::fstatat(dest_folder, dest_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) stats.bytes = static_cast<uintmax_t>(st.st_size);
  return stats;
}

}  // namespace cronhost::api
