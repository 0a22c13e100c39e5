#include "store/wal_write_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace cronhost::store {
namespace {

constexpr const char* kName = "cronhost-wal";
// Writes held at most: a large batch's transaction goes out in steps of this. The unix VFS
// masks a write's length to 17 bits (seekAndWrite), so one write must stay under 128 KiB;
// 16 frames per write already take most of the saving.
constexpr size_t kHoldBytes = 64 * 1024;
// The WAL's header (magic, version, page size, ...), then frames: a header (the page's number,
// then the database's size in pages for a commit frame, else 0) and the page.
constexpr int kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;

sqlite3_vfs* base_vfs = nullptr;  // the default VFS, found at registration

// What both files begin with: the header SQLite sees, then the default VFS's file, which sits
// right after the whole object. The calls passed on unchanged are the same for both.
struct Shim {
  sqlite3_file base;
  sqlite3_file* file;
};

struct WalFile;

// A main database file and its WAL while open.
struct DbFile : Shim {
  WalFile* wal = nullptr;
};

// A WAL file and the writes not yet given to it.
struct WalFile : Shim {
  DbFile* db = nullptr;        // none: nothing is held
  std::string held;
  sqlite3_int64 held_at = 0;
  sqlite3_int64 end = 0;       // past the last byte this file wrote since the WAL began
  uint32_t page_size = 0;      // from the WAL's header; 0 while unknown: nothing is held
  bool header_read = false;    // the header of a WAL begun before this file opened was read
  int failed = SQLITE_OK;      // held frames failed where SQLite could not hear of it
  sqlite3_int64 page_at = -1;  // where the page of the frame header held last goes
  bool commit_frame = false;   // that header is a commit frame's
};

size_t file_bytes() { return (std::max(sizeof(DbFile), sizeof(WalFile)) + 15) / 16 * 16; }
sqlite3_file* base_file_of(sqlite3_file* f) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + file_bytes());
}
Shim& shim_of(sqlite3_file* f) { return *reinterpret_cast<Shim*>(f); }
DbFile& db_of(sqlite3_file* f) { return static_cast<DbFile&>(shim_of(f)); }
WalFile& wal_of(sqlite3_file* f) { return static_cast<WalFile&>(shim_of(f)); }

uint32_t big_endian(const unsigned char* bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | uint32_t(bytes[3]);
}

// The page size a WAL header names, or 0 if it is no WAL header SQLite wrote.
uint32_t page_size_in(const unsigned char* header) {
  const uint32_t magic = big_endian(header);
  const uint32_t size = big_endian(header + 8);
  const bool power_of_two = size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
  return (magic == 0x377f0682 || magic == 0x377f0683) && power_of_two ? size : 0;
}

// Gives the held writes to the file. Written or not, they are dropped: a failure is returned.
int write_held(WalFile& wal) {
  if (wal.held.empty()) return SQLITE_OK;
  const int rc = wal.file->pMethods->xWrite(wal.file, wal.held.data(), static_cast<int>(wal.held.size()), wal.held_at);
  wal.held.clear();
  return rc;
}

// write_held() for a call that is not a write: a write failing there is an I/O error, so
// SQLite rolls the transaction back rather than one statement (see the header).
int write_held_before(WalFile& wal) {
  if (wal.failed != SQLITE_OK) return wal.failed;
  return write_held(wal) == SQLITE_OK ? SQLITE_OK : SQLITE_IOERR_WRITE;
}

bool is_frame_header(const WalFile& wal, int amount, sqlite3_int64 offset) {
  return amount == kFrameHeaderBytes && wal.page_size != 0 && offset >= kWalHeaderBytes &&
         (offset - kWalHeaderBytes) % (wal.page_size + kFrameHeaderBytes) == 0;
}

// Learns the page size from the WAL this file continues (SQLite wrote its header before), once.
void read_page_size(WalFile& wal) {
  wal.header_read = true;
  unsigned char header[kWalHeaderBytes];
  if (wal.file->pMethods->xRead(wal.file, header, kWalHeaderBytes, 0) == SQLITE_OK) wal.page_size = page_size_in(header);
}

int wal_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  WalFile& wal = wal_of(f);
  if (wal.failed != SQLITE_OK) return wal.failed;
  const auto* bytes = static_cast<const unsigned char*>(data);
  const bool page = offset == std::exchange(wal.page_at, -1) && static_cast<uint32_t>(amount) == wal.page_size;
  const bool commit_page = std::exchange(wal.commit_frame, false) && page;
  const bool wal_header = offset == 0 && amount == kWalHeaderBytes;
  if (wal_header) {
    wal.end = 0;  // a new WAL: its header, then frames from the start
    wal.page_size = page_size_in(bytes);
  } else if (wal.page_size == 0 && !wal.header_read && wal.db && wal.held.empty()) {
    read_page_size(wal);
  }
  const bool appends = offset >= wal.end;
  wal.end = std::max(wal.end, offset + amount);
  const bool header = is_frame_header(wal, amount, offset);
  const bool hold = wal.db && appends && (wal_header || header || page) && static_cast<size_t>(amount) <= kHoldBytes;
  const bool continues = offset == wal.held_at + static_cast<sqlite3_int64>(wal.held.size());
  if (!wal.held.empty() && (!hold || !continues || wal.held.size() + static_cast<size_t>(amount) > kHoldBytes)) {
    if (const int rc = write_held(wal); rc != SQLITE_OK) return rc;
  }
  if (!hold) return wal.file->pMethods->xWrite(wal.file, data, amount, offset);
  if (wal.held.empty()) wal.held_at = offset;
  wal.held.append(static_cast<const char*>(data), static_cast<size_t>(amount));
  if (commit_page) return write_held(wal);
  if (header) {
    wal.page_at = offset + amount;
    wal.commit_frame = big_endian(bytes + 4) != 0;
  }
  return SQLITE_OK;
}

int wal_close(sqlite3_file* f) {
  WalFile& wal = wal_of(f);
  const int written = write_held_before(wal);
  if (wal.db) wal.db->wal = nullptr;
  const int closed = wal.file->pMethods->xClose(wal.file);
  wal.~WalFile();
  return written != SQLITE_OK ? written : closed;
}

int wal_read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held_before(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xRead(wal.file, data, amount, offset);
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held_before(wal); rc != SQLITE_OK) return rc;
  wal.end = std::min(wal.end, size);
  return wal.file->pMethods->xTruncate(wal.file, size);
}

int wal_sync(sqlite3_file* f, int flags) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held_before(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xSync(wal.file, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held_before(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xFileSize(wal.file, size);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
  WalFile& wal = wal_of(f);
  if (const int rc = write_held_before(wal); rc != SQLITE_OK) return rc;
  return wal.file->pMethods->xFileControl(wal.file, op, arg);
}

#define CRONHOST_FORWARD(f, method, ...) shim_of(f).file->pMethods->method(shim_of(f).file __VA_OPT__(, ) __VA_ARGS__)
int forward_lock(sqlite3_file* f, int level) { return CRONHOST_FORWARD(f, xLock, level); }
int forward_unlock(sqlite3_file* f, int level) { return CRONHOST_FORWARD(f, xUnlock, level); }
int forward_check_reserved_lock(sqlite3_file* f, int* out) { return CRONHOST_FORWARD(f, xCheckReservedLock, out); }
int forward_sector_size(sqlite3_file* f) { return CRONHOST_FORWARD(f, xSectorSize); }
int forward_device_characteristics(sqlite3_file* f) { return CRONHOST_FORWARD(f, xDeviceCharacteristics); }

// Version 1: SQLite maps shared memory and pages of the database file only, never of its WAL.
const sqlite3_io_methods kWalMethods = {
    1,         wal_close,      wal_read,         wal_write,        wal_truncate,
    wal_sync,  wal_file_size,  forward_lock,     forward_unlock,   forward_check_reserved_lock,
    wal_file_control, forward_sector_size, forward_device_characteristics,
    nullptr,   nullptr,        nullptr,          nullptr,          nullptr,
    nullptr,
};

// The database file: the default VFS's methods, but the WAL's held frames go to the file
// before its shared-memory locks change or its wal-index header is published (a barrier).
// SQLite 3.40 holds none then but those of a transaction it rolled back (a commit's are
// written by its last page), released with the write lock: a failure to write them is nobody's
// business. Anywhere else it fails the WAL's next write or read until that release.
void write_wal_of(DbFile& db, bool write_lock_released) {
  if (!db.wal) return;
  const int rc = write_held(*db.wal);
  if (write_lock_released)
    db.wal->failed = SQLITE_OK;
  else if (rc != SQLITE_OK)
    db.wal->failed = SQLITE_IOERR_WRITE;
}

int db_close(sqlite3_file* f) {
  DbFile& db = db_of(f);
  if (db.wal) db.wal->db = nullptr;
  const int closed = CRONHOST_FORWARD(f, xClose);
  db.~DbFile();
  return closed;
}
int db_read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) { return CRONHOST_FORWARD(f, xRead, data, amount, offset); }
int db_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  return CRONHOST_FORWARD(f, xWrite, data, amount, offset);
}
int db_truncate(sqlite3_file* f, sqlite3_int64 size) { return CRONHOST_FORWARD(f, xTruncate, size); }
int db_sync(sqlite3_file* f, int flags) { return CRONHOST_FORWARD(f, xSync, flags); }
int db_file_size(sqlite3_file* f, sqlite3_int64* size) { return CRONHOST_FORWARD(f, xFileSize, size); }
int db_file_control(sqlite3_file* f, int op, void* arg) { return CRONHOST_FORWARD(f, xFileControl, op, arg); }
int db_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return CRONHOST_FORWARD(f, xShmMap, region, size, extend, out);
}
int db_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  const bool write_lock = offset == 0;  // WAL_WRITE_LOCK: lock 0, alone
  write_wal_of(db_of(f), write_lock && (flags & SQLITE_SHM_UNLOCK));
  const int rc = CRONHOST_FORWARD(f, xShmLock, offset, n, flags);
  // A transaction begins: it writes no frame below its first, whatever another connection left
  // at the WAL's end (a restart, a truncation), so frames from here on are appended.
  if (rc == SQLITE_OK && write_lock && (flags & SQLITE_SHM_LOCK) && db_of(f).wal) db_of(f).wal->end = 0;
  return rc;
}
void db_shm_barrier(sqlite3_file* f) {
  write_wal_of(db_of(f), false);
  CRONHOST_FORWARD(f, xShmBarrier);
}
int db_shm_unmap(sqlite3_file* f, int delete_flag) { return CRONHOST_FORWARD(f, xShmUnmap, delete_flag); }
int db_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  return CRONHOST_FORWARD(f, xFetch, offset, amount, out);
}
int db_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) { return CRONHOST_FORWARD(f, xUnfetch, offset, page); }
#undef CRONHOST_FORWARD

const sqlite3_io_methods kDbMethods = {
    3,           db_close,      db_read,        db_write,     db_truncate,    db_sync,
    db_file_size, forward_lock, forward_unlock, forward_check_reserved_lock, db_file_control, forward_sector_size,
    forward_device_characteristics, db_shm_map, db_shm_lock, db_shm_barrier, db_shm_unmap, db_fetch,
    db_unfetch,
};

int open_db(const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* db = new (f) DbFile{};
  db->file = base_file_of(f);
  const int rc = base_vfs->xOpen(base_vfs, name, db->file, flags, out_flags);
  const sqlite3_io_methods* methods = rc == SQLITE_OK ? db->file->pMethods : nullptr;
  const bool shared_memory = methods && methods->iVersion >= 3 && methods->xShmMap && methods->xShmLock &&
                             methods->xShmBarrier && methods->xShmUnmap;
  if (!shared_memory) {
    // Without shared-memory methods to hook (or not open), the database is the default VFS's alone.
    if (methods) methods->xClose(db->file);
    db->~DbFile();
    return rc != SQLITE_OK ? rc : base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
  }
  db->base.pMethods = &kDbMethods;
  return SQLITE_OK;
}

int open_wal(const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* wal = new (f) WalFile{};
  wal->file = base_file_of(f);
  try {
    wal->held.reserve(kHoldBytes);
  } catch (const std::bad_alloc&) {
    wal->~WalFile();
    f->pMethods = nullptr;
    return SQLITE_NOMEM;
  }
  const int rc = base_vfs->xOpen(base_vfs, name, wal->file, flags, out_flags);
  if (rc != SQLITE_OK) {
    wal->~WalFile();
    f->pMethods = nullptr;  // SQLite closes no file it could not open
    return rc;
  }
  // Frames are held only where the database file's locks can write them out.
  sqlite3_file* database = sqlite3_database_file_object(name);
  if (database && database->pMethods == &kDbMethods && !db_of(database).wal) {
    wal->db = &db_of(database);
    wal->db->wal = wal;
  }
  wal->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int open_file(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  if (flags & SQLITE_OPEN_MAIN_DB) return open_db(name, f, flags, out_flags);
  if (flags & SQLITE_OPEN_WAL) return open_wal(name, f, flags, out_flags);
  // Journals and temporary files: the default VFS's own, opened in place.
  return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
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
  vfs.szOsFile = static_cast<int>(file_bytes()) + base->szOsFile;
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
