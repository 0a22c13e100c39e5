#include "store/db_thread.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>

#include "util/clock.hpp"
#include "util/log.hpp"

namespace cronhost::store {
namespace {

using namespace std::chrono_literals;

// When nobody waits for the queued work, gather a little more before committing: every
// commit writes whole pages to the WAL, and at 10,000 runs/s small batches wrote ~16 KB
// per run. A call() (a slot claim) ends the wait at once.
constexpr auto kLinger = std::chrono::milliseconds(2);
constexpr size_t kEnoughToCommit = 256;
// After a failed commit the kept writes are retried after 50 ms, doubling up to 1 s: a full
// disk is seldom freed within milliseconds, and each try costs a BEGIN and a ROLLBACK.
constexpr auto kFirstBackoff = 50ms;
constexpr auto kMaxBackoff = 1000ms;
// How often the writer looks at the WAL's size (one stat) between batches.
constexpr auto kWalCheckEvery = 1s;
// The WAL's size past which it is truncated while commits fail.
constexpr uint64_t kWalLimitWhileFailing = uint64_t{4} << 20;
// A checkpoint waits this long for readers on older snapshots, then tries again later: the
// writer must not stall behind a slow API read.
constexpr int kCheckpointBusyMs = 100;
constexpr int kBusyTimeoutMs = 5000;  // as configure() in state_store.cpp sets it
// A failure streak ends with a commit that writes and succeeds this long after the last
// failure. On a nearly full disk a one-row write fits where a batch of runs does not; ending
// the streak at each small success logged a new streak every few hundred milliseconds.
constexpr int64_t kStreakEndsAfterMs = 5'000;

// Failures that say the file cannot be written now; another try may succeed.
bool worth_retrying(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

std::unique_ptr<WalCheckpointer> background_checkpointer(SQLite::Database& db, const DbThreadLimits& limits) {
  if (!limits.checkpoint_in_background) return nullptr;
  try {
    return std::make_unique<WalCheckpointer>(db, limits.wal_restart_frames);
  } catch (const std::exception& e) {  // the writer's automatic checkpoint still bounds the WAL
    log_event(spdlog::level::warn, "WAL checkpoints stay in the commits: no second connection to the state file",
              {{"error", e.what()}});
    return nullptr;
  }
}

// Where SQLite keeps the connection's WAL: beside the file it resolved, so a state file given
// as a symlink has its WAL beside the target. Empty for in-memory databases.
std::filesystem::path wal_file_of(SQLite::Database& db) {
  const char* name = sqlite3_db_filename(db.getHandle(), "main");
  if (name == nullptr || *name == '\0') return {};
  return sqlite3_filename_wal(name);
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "unknown error";
}

}  // namespace

DbThread::DbThread(std::unique_ptr<SQLite::Database> db, bool transactional, Limits limits)
    : db_(std::move(db)),
      transactional_(transactional),
      limits_(limits),
      checkpointer_(background_checkpointer(*db_, limits)),
      wal_path_(wal_file_of(*db_)),
      wal_checked_(std::chrono::steady_clock::now()),
      thread_([this] { loop(); }) {}

DbThread::~DbThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  checkpointer_.reset();  // its connection closes first: the writer's close checkpoints and removes the WAL
  statements_.clear();    // before the connection closes
}

void DbThread::enqueue(Task task, std::function<void(std::exception_ptr)> after_commit, bool waited_for) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(task), std::move(after_commit)});
    ++queued_;
    waited_for_ += waited_for;
    // Waking an idle thread for the first post measured better than waking it only at the
    // batch limit (median lateness at 10,000 runs/s 11-21 ms against 26-36 ms, over three
    // runs each). A lingering thread commits when its wait ends: woken for each post, it
    // only looked and slept again.
    wake = waited_for || !lingering_ || queue_.size() >= kEnoughToCommit;
  }
  if (wake) wake_.notify_one();
}

bool DbThread::run_here(Item& call) {
  std::deque<Item> batch;
  {
    std::lock_guard lock(mutex_);
    // A due WAL restart is the database thread's to make (upkeep()): this call goes there.
    if (executing_ || stopping_ || health_.retained > 0 || (checkpointer_ && checkpointer_->restart_due())) return false;
    executing_ = true;
    batch.swap(queue_);
    waited_for_ = 0;
    ++queued_;
  }
  batch.push_back(std::move(call));
  execute(batch);
  release(batch.size());
  return true;
}

void DbThread::release(size_t batch_size) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    done_ += batch_size;
    executing_ = false;
    wake = !queue_.empty() || health_.retained > 0 || stopping_;
    // Under the lock: once it is released a stopping thread may end and the owner destroy
    // this object before a caller's notify would reach it.
    drained_.notify_all();
    if (wake) wake_.notify_one();
  }
}

void DbThread::post(Task fn) {
  enqueue(
      [fn = std::move(fn)](SQLite::Database& db) {
        try {
          fn(db);
        } catch (const SQLite::Exception& e) {
          if (worth_retrying(e.getErrorCode())) throw;  // fails the batch: kept and retried
          log_event(spdlog::level::err, "state file write failed", {{"error", e.what()}});
        } catch (const std::exception& e) {
          log_event(spdlog::level::err, "state file write failed", {{"error", e.what()}});
        } catch (...) {  // not the file's fault: a retry would fail the same way, forever
          log_event(spdlog::level::err, "state file write failed", {{"error", "unknown error"}});
        }
      },
      nullptr, false);
}

SQLite::Statement& DbThread::statement(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) {
    slot = std::make_unique<SQLite::Statement>(*db_, sql);
  } else {
    // tryReset: reset() throws again the error of the statement's last run, which was the
    // write before's (already handled), and the write now would fail for it.
    slot->tryReset();
    slot->clearBindings();
  }
  return *slot;
}

void DbThread::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_;
  drained_.wait(lock, [&] { return done_ >= target; });
}

uint64_t DbThread::frames_checkpointed_in_background() const {
  return checkpointer_ ? checkpointer_->frames_copied() : 0;
}

WriteHealth DbThread::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

std::exception_ptr DbThread::run_transaction(std::deque<Item>& items) {
  if (items.empty()) return nullptr;
  if (!transactional_) {
    // Each statement commits on its own: nothing to roll back, so nothing to retry.
    for (auto& item : items) {
      try {
        item.task(*db_);
      } catch (const std::exception& e) {
        log_event(spdlog::level::err, "state file write failed", {{"error", e.what()}});
      }
    }
    return nullptr;
  }
  sqlite3* handle = db_->getHandle();
  try {
    // IMMEDIATE: the write lock up front, so a batch that starts with a read cannot fail
    // with SQLITE_BUSY_SNAPSHOT when the command line (approvals) committed in between.
    // Prepared once: sqlite3_exec() compiles its text on every call (~1 us each here).
    statement("BEGIN IMMEDIATE").exec();
    for (auto& item : items) {
      item.task(*db_);
      // On SQLITE_FULL or an I/O error SQLite may roll the whole transaction back; the
      // writes after it would then commit one by one, and a retry would repeat them.
      if (sqlite3_get_autocommit(handle))
        throw std::runtime_error(std::string("the transaction was rolled back: ") + sqlite3_errmsg(handle));
    }
    statement("COMMIT").exec();
    return nullptr;
  } catch (...) {
    const auto error = std::current_exception();
    try {
      if (!sqlite3_get_autocommit(handle)) db_->exec("ROLLBACK");
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "state file rollback failed", {{"error", e.what()}});
    }
    return error;
  }
}

void DbThread::answer_calls(std::deque<Item>& items, const std::exception_ptr& error) {
  for (auto& item : items)
    if (item.after_commit) item.after_commit(error);
}

void DbThread::retain(std::deque<Item>& posted) {
  for (auto& item : posted)
    if (!item.after_commit) retained_.push_back(std::move(item));
  const size_t dropped = retained_.size() > limits_.max_retained ? retained_.size() - limits_.max_retained : 0;
  retained_.erase(retained_.begin(), retained_.begin() + static_cast<std::ptrdiff_t>(dropped));
  std::lock_guard lock(mutex_);
  if (dropped > 0 && health_.retained < limits_.max_retained)  // the first drop of a streak
    log_event(spdlog::level::err, "state file writes given up: too many waiting for a retry",
              {{"dropped", dropped}, {"limit", limits_.max_retained}, {"error", health_.last_error}});
  health_.lost += dropped;
  health_.retained = retained_.size();
}

void DbThread::note_commit(const std::exception_ptr& error) {
  std::lock_guard lock(mutex_);
  health_.retained = retained_.size();
  if (error) {
    health_.last_error = message_of(error);
    health_.last_failure_ms = now_ms();
    if (health_.failed_commits++ == 0) {
      health_.failing_since_ms = now_ms();
      log_event(spdlog::level::err, "state file commits are failing; queued writes are kept and retried",
                {{"error", health_.last_error}});
    }
  } else if (health_.failed_commits > 0 && now_ms() - health_.last_failure_ms >= kStreakEndsAfterMs) {
    log_event(spdlog::level::info, "state file commits succeed again",
              {{"failed_commits", health_.failed_commits}, {"failing_ms", now_ms() - health_.failing_since_ms}});
    health_.failed_commits = 0;
    health_.failing_since_ms = 0;
  }
}

void DbThread::give_up_retained(const char* why) {
  std::lock_guard lock(mutex_);
  if (retained_.empty()) return;
  log_event(spdlog::level::err, "state file writes lost: the state file could not take them",
            {{"writes", retained_.size()}, {"error", health_.last_error}, {"why", why}});
  health_.lost += retained_.size();
  retained_.clear();
  health_.retained = 0;
}

void DbThread::bound_wal(uint64_t limit) {
  const auto now = std::chrono::steady_clock::now();
  if (now - wal_checked_ < kWalCheckEvery) return;
  wal_checked_ = now;
  struct stat st {};
  if (::stat(wal_path_.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) <= limit) return;
  sqlite3* handle = db_->getHandle();
  sqlite3_busy_timeout(handle, kCheckpointBusyMs);
  int wal_frames = 0, checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &wal_frames, &checkpointed);
  sqlite3_busy_timeout(handle, kBusyTimeoutMs);
  if (rc != SQLITE_OK)  // busy: readers or the checkpointer; anything else (a full disk) is news
    log_event(rc == SQLITE_BUSY ? spdlog::level::debug : spdlog::level::warn, "WAL checkpoint deferred",
              {{"wal_bytes", st.st_size}, {"frames_copied", checkpointed}, {"frames", wal_frames}, {"error", sqlite3_errstr(rc)}});
}

void DbThread::loop() {
  auto backoff = kFirstBackoff;
  std::optional<std::chrono::steady_clock::time_point> give_up_at;  // set once stopping while failing
  // Work came within the last kLinger: wait with a timeout rather than for a post. Calls made
  // meanwhile commit the posts on their own threads, and a post wakes nobody; woken by each
  // post, this thread mostly found a caller holding the connection and slept again.
  bool active = false;
  for (;;) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mutex_);
      const auto has_work = [&] { return !queue_.empty() || health_.retained > 0; };
      const uint64_t seen = queued_;
      if (active) {
        lingering_ = true;
        wake_.wait_for(lock, kLinger, [&] {
          return !executing_ && (stopping_ || health_.retained > 0 || waited_for_ > 0 || queue_.size() >= kEnoughToCommit);
        });
        lingering_ = false;
        if (executing_) continue;  // a caller holds the connection: it takes what is queued
        if (!has_work()) {         // callers took it all; asleep once nothing came for a while
          active = queued_ != seen;
          continue;
        }
      } else {
        wake_.wait(lock, [&] { return stopping_ || queued_ != seen || has_work(); });
        if (stopping_ && !executing_ && !has_work()) return;  // stopping and drained
        active = true;
        continue;  // gather more posts first, unless someone waits or enough are queued
      }
      if (!retained_.empty()) {
        // No call runs on its caller's thread while writes are kept, so the connection stays here.
        const auto now = std::chrono::steady_clock::now();
        if (stopping_ && !give_up_at) give_up_at = now + limits_.stop_deadline;
        if (give_up_at && now >= *give_up_at) {
          lock.unlock();
          give_up_retained("the host is stopping");
          continue;  // what is still queued gets one more try
        }
        // Failing: wait out the backoff. A call ends it early (its caller is blocked), and so
        // does a stop, which starts the deadline.
        auto until = now + backoff;
        if (give_up_at) until = std::min(until, *give_up_at);
        wake_.wait_until(lock, until, [&] { return waited_for_ > 0 || (stopping_ && !give_up_at); });
      }
      batch.swap(queue_);
      waited_for_ = 0;
      executing_ = true;
    }
    execute(batch);
    backoff = retained_.empty() ? kFirstBackoff : std::min(backoff * 2, std::chrono::duration_cast<decltype(backoff)>(kMaxBackoff));
    upkeep();
    release(batch.size());
  }
}

void DbThread::execute(std::deque<Item>& batch) noexcept {
  if (retained_.empty()) {
    const int64_t changes_before = sqlite3_total_changes64(db_->getHandle());
    const auto error = run_transaction(batch);
    answer_calls(batch, error);
    // A commit that wrote nothing (reads only) proves nothing about the file.
    if (error || sqlite3_total_changes64(db_->getHandle()) != changes_before) note_commit(error);
    if (error) retain(batch);
  } else {
    // Calls first, in a transaction of their own: a read or a claim that can succeed must
    // not fail because the kept writes keep failing.
    std::deque<Item> calls, posted;
    for (auto& item : batch) (item.after_commit ? calls : posted).push_back(std::move(item));
    if (!calls.empty()) {
      const auto error = run_transaction(calls);
      answer_calls(calls, error);
      if (error) note_commit(error);
    }
    retain(posted);
    const auto error = run_transaction(retained_);
    if (!error) retained_.clear();
    note_commit(error);
  }
}

void DbThread::upkeep() {
  if (checkpointer_) checkpointer_->restart_if_due();
  // While commits fail the WAL is cut back further: on a full disk the space it holds (~34 MB
  // between restarts) may be what the commits lack.
  if (limits_.wal_limit_bytes != 0)
    bound_wal(retained_.empty() ? limits_.wal_limit_bytes : std::min(limits_.wal_limit_bytes, kWalLimitWhileFailing));
}

}  // namespace cronhost::store
