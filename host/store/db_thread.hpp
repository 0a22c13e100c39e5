// One thread owns the SQLite connection; everything else hands it work. Work that arrives
// while a transaction is being written joins the next one, so many small writes cost one
// commit (group commit). A call() made while that thread has nothing under way runs on the
// caller's own thread instead, with the writes queued so far: the connection is lent, never
// shared. When a commit fails (a full disk, a lock held elsewhere), the posted writes of the
// batch are kept and retried after a backoff: the transaction rolled back as a whole, so
// running them again is correct. Thread-safe: call(), post(), flush() and health() may be
// used from any thread.
#pragma once
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <thread>
#include <type_traits>

#include "store/wal_checkpointer.hpp"
#include "store/write_health.hpp"

namespace cronhost::store {

// What a DbThread keeps and for how long when commits fail; when it bounds the WAL.
struct DbThreadLimits {
  // A stop retries failing writes this long before it gives them up (and logs how many).
  std::chrono::milliseconds stop_deadline{10'000};
  // Posted writes kept for a retry; beyond it the oldest are given up. A finished run's
  // write holds its output (64 KiB by default), so 20,000 is at most ~1.3 GB in the
  // worst case and a few MB typically; claims fail meanwhile, so few new runs start.
  size_t max_retained = 20'000;
  // Between batches, a WAL file above this size (above 4 MiB while commits fail) is
  // checkpointed and truncated, so readers that keep the automatic checkpoint from restarting
  // it cannot let it grow to a full disk. 0: never (in-memory and read-only connections).
  uint64_t wal_limit_bytes = 0;
  // Copy the WAL into the database file on a thread of its own (store/wal_checkpointer.hpp),
  // keeping the checkpoint's fsyncs out of the commits; the writer restarts the WAL from
  // `wal_restart_frames` on. For the daemon's writer on a file.
  bool checkpoint_in_background = false;
  int wal_restart_frames = WalCheckpointer::kRestartFrames;
};

class DbThread {
 public:
  using Task = std::function<void(SQLite::Database&)>;

  using Limits = DbThreadLimits;

  // Takes the open connection; `transactional`: run each batch inside BEGIN ... COMMIT.
  DbThread(std::unique_ptr<SQLite::Database> db, bool transactional, Limits limits = {});
  ~DbThread();  // finishes every queued task first (see Limits::stop_deadline)
  DbThread(const DbThread&) = delete;
  DbThread& operator=(const DbThread&) = delete;

  // Runs `fn` with the connection (on this thread when it is free, else on the database
  // thread) and returns its result once its batch has committed (so a claim is durable before
  // the caller acts on it). Exceptions from `fn` or from the commit are rethrown here; a call
  // whose commit failed is not retried. Not from inside a task: that would wait for itself.
  template <typename F>
  auto call(F fn) -> std::invoke_result_t<F, SQLite::Database&> {
    using R = std::invoke_result_t<F, SQLite::Database&>;
    using Stored = std::conditional_t<std::is_void_v<R>, bool, R>;
    struct Shared {
      std::optional<Stored> value;
      std::exception_ptr error;  // from `fn`, else from the commit
      // Only for a call handed to the database thread: setting a std::promise costs a futex
      // wake (its call_once) even when nobody waits.
      std::optional<std::promise<void>> answered;
    };
    auto shared = std::make_shared<Shared>();
    Item item{
        [shared, fn = std::move(fn)](SQLite::Database& db) mutable {
          try {
            if constexpr (std::is_void_v<R>) {
              fn(db);
              shared->value.emplace(true);
            } else {
              shared->value.emplace(fn(db));
            }
          } catch (...) {
            shared->error = std::current_exception();
          }
        },
        [shared](std::exception_ptr commit_error) {
          if (!shared->error) shared->error = commit_error;
          if (shared->answered) shared->answered->set_value();
        }};
    if (!run_here(item)) {
      auto answered = shared->answered.emplace().get_future();
      enqueue(std::move(item.task), std::move(item.after_commit), true);
      answered.wait();
    }
    if (shared->error) std::rethrow_exception(shared->error);
    if constexpr (!std::is_void_v<R>) return std::move(*shared->value);
  }

  // Queues `fn`; returns at once. A failure that retrying may cure (the file cannot be
  // written now: full, busy, I/O error) keeps it for a retry; any other failure is logged
  // and the write dropped.
  void post(Task fn);

  // A prepared statement for `sql` (a string literal), reset and ready to bind. Only for use
  // inside tasks, with the connection held: preparing once saves ~5 us per use.
  SQLite::Statement& statement(const char* sql);
  // Waits until everything queued so far has been tried: committed, or kept for a retry
  // after a failed commit (health() tells which).
  void flush();
  WriteHealth health() const;
  // Frames the background checkpointer copied so far (0 without one).
  uint64_t frames_checkpointed_in_background() const;

 private:
  struct Item {
    Task task;
    std::function<void(std::exception_ptr)> after_commit;  // null: posted, nobody waits
  };
  void enqueue(Task task, std::function<void(std::exception_ptr)> after_commit, bool waited_for);
  // Runs `call` and the queued writes on this thread if the connection is free and no write
  // waits for a retry; false (nothing done) otherwise. Handing a call to the database thread
  // and back cost a persisted run two wake-ups (README, performance).
  bool run_here(Item& call);
  void loop();
  // With the connection held: `batch` in one transaction, or, while writes are kept for a
  // retry, its calls first and then the kept writes. noexcept: what could still escape (no
  // memory to keep the writes) ends the host, as it did on the database thread; a connection
  // left held would hang every caller without a word.
  void execute(std::deque<Item>& batch) noexcept;
  // On the database thread, the connection held, after a batch: the WAL's restart when a commit
  // found it due, and its bound. A caller's claim does not wait for their checkpoints.
  void upkeep();
  // Gives the connection back after executing `batch`; wakes the thread if it has work.
  void release(size_t batch_size);
  // Runs `items` in one transaction; the error if it did not commit (then rolled back).
  std::exception_ptr run_transaction(std::deque<Item>& items);
  void answer_calls(std::deque<Item>& items, const std::exception_ptr& error);
  void retain(std::deque<Item>& posted);
  void note_commit(const std::exception_ptr& error);
  void give_up_retained(const char* why);
  void bound_wal(uint64_t limit);  // truncates a WAL file past `limit` bytes

  std::unique_ptr<SQLite::Database> db_;
  const bool transactional_;
  const Limits limits_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // null: SQLite's automatic checkpoint only
  const std::filesystem::path wal_path_;
  // Touched only by whoever holds the connection (executing_), or by the database thread while
  // writes are kept for a retry (no call runs elsewhere then).
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
  std::deque<Item> retained_;  // posted writes to retry, oldest first
  std::chrono::steady_clock::time_point wal_checked_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Item> queue_;
  uint64_t queued_ = 0, done_ = 0;
  size_t waited_for_ = 0;  // queued call()s: someone blocks on these
  bool executing_ = false;  // a thread (this one or a caller's) holds the connection
  bool lingering_ = false;  // the thread gathers posted writes for a while before committing
  bool stopping_ = false;
  WriteHealth health_;     // guarded by mutex_
  std::thread thread_;
};

}  // namespace cronhost::store
