#include "store/wal_write_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace cronhost::store {
namespace {

constexpr const char* kName = "cronhost-wal";
// Writes held at most: a large batch's transaction goes out in steps of this. The unix VFS
// writes at most 128 KiB - 1 bytes per call (seekAndWrite masks the count to 17 bits), and
// 16 frames per write already take most of the saving.
constexpr size_t kHoldBytes = 64 * 1024;
// A WAL frame header: page number, then the database's size in pages for a commit frame, else 0.
constexpr int kFrameHeaderBytes = 24;
constexpr int kWalHeaderBytes = 32;

sqlite3_vfs* base_vfs = nullptr;  // the default VFS, found at registration

// A WAL file: the default VFS's file right after this, and the writes not yet given to it.
struct WalFile {
  sqlite3_file base;
  sqlite3_file* file;
  std::string held;
  sqlite3_int64 held_at = 0;
  sqlite3_int64 end = 0;       // past the last byte this file wrote since the WAL began
  sqlite3_int64 page_at = -1;  // where the page of the frame header held last goes
  bool commit_frame = false;   // that header is a commit frame's
};

WalFile& wal_of(sqlite3_file* f) { return *reinterpret_cast<WalFile*>(f); }

int write_held(WalFile& wal) {
  if (wal.held.empty()) return SQLITE_OK;
  const int rc = wal.file->pMethods->xWrite(wal.file, wal.held.data(), static_cast<int>(wal.held.size()), wal.held_at);
  // Failed or not, SQLite is told now: it fails the transaction and writes these frames again.
  wal.held.clear();
  return rc;
}

bool is_commit_header(const void* data) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  return (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

int wal_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  WalFile& wal = wal_of(f);
  const bool page_of_header = offset == std::exchange(wal.page_at, -1);
  const bool commit_page = std::exchange(wal.commit_frame, false) && page_of_header;
  if (offset == 0) wal.end = 0;  // a new WAL: its header, then frames from the start
  const bool appends = offset >= wal.end;
  wal.end = std::max(wal.end, offset + amount);
  // Held: the WAL's header and frames appended at its end, written as SQLite 3.40 writes them
  // (a frame's header, then its page). Anything else goes to the file at once, after what is
  // held: SQLite's writes over frames of the transaction (a page written again, the checksums
  // it rewrites after the commit frame) would otherwise miss the commit's return.
  const bool frame_part = (offset == 0 && amount == kWalHeaderBytes) || amount == kFrameHeaderBytes || page_of_header;
  const bool hold = appends && frame_part && static_cast<size_t>(amount) <= kHoldBytes;
  const bool continues = offset == wal.held_at + static_cast<sqlite3_int64>(wal.held.size());
  if (!wal.held.empty() && (!hold || !continues || wal.held.size() + static_cast<size_t>(amount) > kHoldBytes)) {
    if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  }
  if (!hold) return wal.file->pMethods->xWrite(wal.file, data, amount, offset);
  if (wal.held.empty()) wal.held_at = offset;
  wal.held.append(static_cast<const char*>(data), static_cast<size_t>(amount));
  if (commit_page) return write_held(wal);
  if (amount == kFrameHeaderBytes) {
    wal.page_at = offset + amount;
    wal.commit_frame = is_commit_header(data);
  }
  return SQLITE_OK;
}

int wal_close(sqlite3_file* f) {
  WalFile& wal = wal_of(f);
  const int written = write_held(wal);
  const int closed = wal.file->pMethods->xClose(wal.file);
  wal.~WalFile();
  return written != SQLITE_OK ? written : closed;
}

int wal_read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xRead(wal.file, data, amount, offset);
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  wal.end = std::min(wal.end, size);
  return wal.file->pMethods->xTruncate(wal.file, size);
}

int wal_sync(sqlite3_file* f, int flags) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xSync(wal.file, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xFileSize(wal.file, size);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xFileControl(wal.file, op, arg);
}

int wal_lock(sqlite3_file* f, int level) { return wal_of(f).file->pMethods->xLock(wal_of(f).file, level); }
int wal_unlock(sqlite3_file* f, int level) { return wal_of(f).file->pMethods->xUnlock(wal_of(f).file, level); }
int wal_check_reserved_lock(sqlite3_file* f, int* out) {
  return wal_of(f).file->pMethods->xCheckReservedLock(wal_of(f).file, out);
}
int wal_sector_size(sqlite3_file* f) { return wal_of(f).file->pMethods->xSectorSize(wal_of(f).file); }
int wal_device_characteristics(sqlite3_file* f) {
  return wal_of(f).file->pMethods->xDeviceCharacteristics(wal_of(f).file);
}

// Version 1: SQLite maps shared memory and pages of the database file only, never of its WAL.
const sqlite3_io_methods kWalMethods = {
    1,         wal_close,      wal_read,         wal_write,        wal_truncate,
    wal_sync,  wal_file_size,  wal_lock,         wal_unlock,       wal_check_reserved_lock,
    wal_file_control, wal_sector_size, wal_device_characteristics,
    nullptr,   nullptr,        nullptr,          nullptr,          nullptr,
    nullptr,
};

size_t wal_file_bytes() { return (sizeof(WalFile) + 15) / 16 * 16; }

int open_file(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  // Every file but a WAL is the default VFS's own, opened in place: no call goes through here.
  if (!(flags & SQLITE_OPEN_WAL)) return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
  auto* wal = new (f) WalFile{};
  wal->file = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + wal_file_bytes());
  const int rc = base_vfs->xOpen(base_vfs, name, wal->file, flags, out_flags);
  if (rc != SQLITE_OK) {
    wal->~WalFile();
    f->pMethods = nullptr;  // SQLite closes no file it could not open
    return rc;
  }
  wal->held.reserve(64 * 1024);
  wal->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int delete_file(sqlite3_vfs*, const char* name, int sync_dir) { return base_vfs->xDelete(base_vfs, name, sync_dir); }
int access(sqlite3_vfs*, const char* name, int flags, int* out) { return base_vfs->xAccess(base_vfs, name, flags, out); }
int full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return base_vfs->xFullPathname(base_vfs, name, size, out);
}
void* dl_open(sqlite3_vfs*, const char* name) { return base_vfs->xDlOpen(base_vfs, name); }
void dl_error(sqlite3_vfs*, int size, char* out) { base_vfs->xDlError(base_vfs, size, out); }
void (*dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return base_vfs->xDlSym(base_vfs, handle, symbol);
}
void dl_close(sqlite3_vfs*, void* handle) { base_vfs->xDlClose(base_vfs, handle); }
int randomness(sqlite3_vfs*, int size, char* out) { return base_vfs->xRandomness(base_vfs, size, out); }
int sleep_for(sqlite3_vfs*, int micros) { return base_vfs->xSleep(base_vfs, micros); }
int current_time(sqlite3_vfs*, double* out) { return base_vfs->xCurrentTime(base_vfs, out); }
int get_last_error(sqlite3_vfs*, int size, char* out) { return base_vfs->xGetLastError(base_vfs, size, out); }
int current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return base_vfs->xCurrentTimeInt64(base_vfs, out); }

sqlite3_vfs vfs_over(sqlite3_vfs* base) {
  sqlite3_vfs vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(wal_file_bytes()) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = kName;
  vfs.xOpen = open_file;
  vfs.xDelete = delete_file;
  vfs.xAccess = access;
  vfs.xFullPathname = full_pathname;
  vfs.xDlOpen = dl_open;
  vfs.xDlError = dl_error;
  vfs.xDlSym = dl_sym;
  vfs.xDlClose = dl_close;
  vfs.xRandomness = randomness;
  vfs.xSleep = sleep_for;
  vfs.xCurrentTime = current_time;
  vfs.xGetLastError = get_last_error;
  vfs.xCurrentTimeInt64 = current_time_int64;
  return vfs;
}

}  // namespace

const char* wal_write_vfs() {
  static std::once_flag once;
  static sqlite3_vfs vfs;
  static int registered = SQLITE_ERROR;
  std::call_once(once, [] {
    base_vfs = sqlite3_vfs_find(nullptr);
    if (!base_vfs || base_vfs->iVersion < 2) return;
    vfs = vfs_over(base_vfs);
    registered = sqlite3_vfs_register(&vfs, 0);
  });
  if (registered != SQLITE_OK) throw std::runtime_error("SQLite refused the WAL write VFS (" + std::to_string(registered) + ")");
  return kName;
}

}  // namespace cronhost::store
