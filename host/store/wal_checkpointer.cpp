#include "store/wal_checkpointer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "util/log.hpp"

namespace cronhost::store {
namespace {

// A pass starts once this many frames (512 KiB of 4 KiB pages) are new since the last one, so
// what the writer's own checkpoint finds left to copy stays small.
constexpr int kPassFrames = 128;

// The writer's WAL hook: tells the checkpointer, and from restart_frames on marks the restart
// due (restart_if_due() does it once the commit's callers are answered).
int on_wal_commit(void* checkpointer, sqlite3*, const char*, int wal_frames) {
  auto* self = static_cast<WalCheckpointer*>(checkpointer);
  self->committed(wal_frames);
  return SQLITE_OK;
}

}  // namespace

WalCheckpointer::WalCheckpointer(SQLite::Database& writer, int restart_frames)
    : writer_(writer.getHandle()),
      restart_frames_(restart_frames),
      // The file SQLite resolved for the writer (a symlink's target), not the name it was given.
      db_(std::make_unique<SQLite::Database>(sqlite3_db_filename(writer_, "main"), SQLite::OPEN_READWRITE)),
      pass_at_(kPassFrames) {
  // Checkpoints sync the WAL and the database file under NORMAL as under FULL; NORMAL as the
  // writer has it. Reading the schema opens the WAL on this connection.
  db_->exec("PRAGMA synchronous = NORMAL");
  db_->exec("SELECT count(*) FROM sqlite_master");
  thread_ = std::thread([this] { loop(); });
  sqlite3_wal_hook(writer_, on_wal_commit, this);
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_autocheckpoint(writer_, 1000);  // SQLite's own hook and default again
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::restart_if_due() {
  // What SQLite's automatic checkpoint would do. It never waits for another's lock: while the
  // checkpointer's pass runs it returns SQLITE_BUSY at once, and the next commit marks the
  // restart due again (the checkpointer starts no pass past restart_frames, so the lock comes free).
  if (restart_due_.exchange(false)) sqlite3_wal_checkpoint_v2(writer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

void WalCheckpointer::committed(int wal_frames) {
  if (wal_frames >= restart_frames_) restart_due_ = true;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (wal_frames < wal_frames_) {  // the WAL restarted from its beginning
      pass_at_ = kPassFrames;
      copied_before_ = 0;
      ++restarts_;
    }
    wal_frames_ = wal_frames;
    wake = wal_frames_ >= pass_at_;
  }
  if (wake) wake_.notify_one();
}

uint64_t WalCheckpointer::frames_copied() const {
  std::lock_guard lock(mutex_);
  return frames_copied_;
}

void WalCheckpointer::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // Past the restart point the writer needs the checkpoint lock for itself (see on_wal_commit).
    wake_.wait(lock, [&] { return stopping_ || (wal_frames_ >= pass_at_ && wal_frames_ < restart_frames_); });
    if (stopping_) return;
    const uint64_t restarts = restarts_;
    lock.unlock();
    int wal_frames = 0, copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
    lock.lock();
    if (restarts != restarts_) continue;  // the figures are of the WAL before its restart
    if (rc == SQLITE_OK) {
      // `copied` counts the frames of this WAL in the database file, this pass's and earlier.
      frames_copied_ += static_cast<uint64_t>(std::max(0, copied - copied_before_));
      copied_before_ = copied;
      pass_at_ = wal_frames + kPassFrames;
      failing_ = false;
    } else {
      // Busy (the writer checkpointing) or failing (a full disk cannot take the copied pages):
      // try again once more frames are new. The writer's own checkpoint still bounds the WAL.
      if (rc != SQLITE_BUSY && !std::exchange(failing_, true))
        log_event(spdlog::level::warn, "background WAL checkpoint failed; trying again as the WAL grows",
                  {{"error", sqlite3_errstr(rc)}, {"wal_frames", wal_frames_}});
      pass_at_ = wal_frames_ + kPassFrames;
    }
  }
}

}  // namespace cronhost::store
