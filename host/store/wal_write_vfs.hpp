// A SQLite VFS that writes a transaction's WAL frames with one write() instead of two per frame.
// SQLite writes each frame as its 24-byte header and then its page, so a run's transaction of
// 6 frames made 12 pwrite calls, ~13 us of a persisted run's 37 (README, Speed); one write of
// them all saved 5 us.
// This VFS holds the frames SQLite appends to the WAL, shaped exactly as SQLite writes them
// (the WAL's header; a frame's header at a frame's offset; the page right after it), and
// writes them out together:
// - within the xWrite of a commit frame's page, so a failed write (a full disk) fails the
//   commit it belongs to, as SQLite's own write would have, and nothing is committed unwritten;
// - before anything that looks at the file (read, size, truncate, sync, close, file control),
//   before any other write, and at 64 KiB; a failure found then is an I/O error, which makes
//   SQLite roll the whole transaction back (SQLITE_FULL from a read would undo one statement
//   and leave the transaction to commit over frames never written);
// - before the database file's shared-memory locks change: frames a spill wrote ahead of a
//   rollback then land before another connection may write where they were.
// Any other write (SQLite's checksum rewrite after a commit frame, a page written twice in a
// transaction, a frame split at a sync point) goes to the file at once, after what is held.
// A crash loses only frames whose commit had not returned, which SQLite ignores on recovery
// anyway. Other files are the default VFS's own.
// Thread-safety: register once (thread-safe); each file is used as SQLite uses it.
#pragma once

namespace cronhost::store {

// Registers the VFS on first use (not as the default) and returns its name, to open a
// connection with. Throws std::runtime_error when SQLite refuses it.
const char* wal_write_vfs();

}  // namespace cronhost::store
