// Copies the state file's WAL into the database file on a thread and a connection of its own,
// so commits do not wait for a checkpoint's fsyncs (a 4 MiB checkpoint held a commit 2-10 ms).
// SQLite restarts the WAL only when a write begins with every frame copied, so the writer still
// checkpoints from `restart_frames` on, finding only the last few frames left. Both halves
// matter: the thread alone left the writer's checkpoints as often as before, and a late
// restart alone made each of them copy 32 MiB (README, Speed).
// Thread-safe: committed() may be called from any thread (the writer's WAL hook calls it).
#pragma once
#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace cronhost::store {

class WalCheckpointer {
 public:
  // 32 MiB of 4 KiB pages: at 10,000 runs/s the WAL restarts a few times a second.
  static constexpr int kRestartFrames = 8192;

  // Opens a second connection to the writer's file (in WAL mode) and takes over the writer's
  // WAL hook. Throws when it cannot. The writer must outlive it.
  WalCheckpointer(SQLite::Database& writer, int restart_frames = kRestartFrames);
  // Gives the writer SQLite's automatic checkpoint back; a pass under way finishes first.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // The writer committed and the WAL now holds `wal_frames` frames: wakes the thread once
  // enough of them are new; from restart_frames on, the restart is due.
  void committed(int wal_frames);
  // With the writer's connection held, after a commit's callers are answered: copies the
  // frames left and so lets the next write restart the WAL, if a commit found that due. Done
  // by the database thread alone, so a claim committed on its caller's thread does not wait
  // for it (1.3-4 ms with its fsyncs; p99 at 10,000 runs/s 6-7 ms against 4 ms).
  void restart_if_due();
  bool restart_due() const { return restart_due_; }
  // Frames this thread copied into the database file so far (for tests).
  uint64_t frames_copied() const;

 private:
  void loop();

  sqlite3* const writer_;
  const int restart_frames_;
  std::unique_ptr<SQLite::Database> db_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  int wal_frames_ = 0;     // in the WAL after the writer's last commit
  int pass_at_;            // the next pass starts when wal_frames_ reaches this
  int copied_before_ = 0;  // frames of the current WAL in the database file after the last pass
  uint64_t restarts_ = 0;  // WAL restarts seen, so a pass across one does not count
  bool failing_ = false;   // the last pass failed (logged once per streak)
  uint64_t frames_copied_ = 0;
  bool stopping_ = false;
  std::atomic<bool> restart_due_{false};
  std::thread thread_;
};

}  // namespace cronhost::store
