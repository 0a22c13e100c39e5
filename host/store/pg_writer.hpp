// One thread owns the PostgreSQL store's connection (store/pg_session.hpp); everything else
// hands it work, as store/db_thread.hpp does for SQLite, with the same promises: work that
// arrives while a transaction is being written joins the next one (group commit); call()
// returns once its batch committed; when a commit fails for a reason a retry may cure (the
// server down or restarting, a lock or statement timeout, a serialization failure), the
// posted writes of the batch are kept and retried after 50 ms doubling to 1 s, calls first in
// a transaction of their own so a read or a claim that can succeed does not wait for them.
// A statement that fails for any other reason aborts the whole PostgreSQL transaction (unlike
// SQLite), so the batch is rolled back and run again without it: a failed call gets its error,
// a failed posted write is logged and dropped. Thread-safe: call(), post(), flush() and
// health() may be used from any thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "store/db_thread.hpp"  // DbThreadLimits: the same limits for both backends
#include "store/pg_job_state_tally.hpp"
#include "store/pg_kv_writes.hpp"
#include "store/pg_session.hpp"
#include "store/write_health.hpp"

namespace cronhost::store {

class PgWriter {
 public:
  using Task = std::function<void(PgSession&)>;

  // Takes the session (not yet connected is fine: the first batch connects).
  explicit PgWriter(std::unique_ptr<PgSession> session, DbThreadLimits limits = {});
  ~PgWriter();  // finishes every queued task first (see DbThreadLimits::stop_deadline)
  PgWriter(const PgWriter&) = delete;
  PgWriter& operator=(const PgWriter&) = delete;

  // Runs `fn` on the writer thread and returns its result once its batch committed.
  // Exceptions from `fn` or from the commit are rethrown here; a call is never retried.
  template <typename F>
  auto call(F fn) -> std::invoke_result_t<F, PgSession&> {
    return call_in(std::move(fn), false);
  }
  // As call(), in a transaction of its own, committed between the work queued before and after
  // it. For claims: a claim's INSERT waits for another host's transaction that ends the job's
  // previous run (the runs_exclusive index); in one group commit with this host's own run
  // endings, two hosts could each wait for the other (a deadlock).
  template <typename F>
  auto call_alone(F fn) -> std::invoke_result_t<F, PgSession&> {
    return call_in(std::move(fn), true);
  }

  // Queues `fn`; returns at once.
  void post(Task fn);
  // Waits until everything queued so far has been tried: committed, or kept for a retry.
  void flush();
  WriteHealth health() const;
  // The job_state changes of the transaction being written, written just before its COMMIT
  // in job order. For tasks only (the writer thread).
  PgJobStateTally& tally() { return tally_; }
  // The kv writes of the transaction being written, written just before the tally in (job,
  // key) order. For tasks only (the writer thread).
  PgKvWrites& kv() { return kv_; }

 private:
  struct Item {
    Task task;
    std::function<void(std::exception_ptr)> after_commit;  // null: posted, nobody waits
    bool alone = false;                                    // in a transaction of its own
  };

  template <typename F>
  auto call_in(F fn, bool alone) -> std::invoke_result_t<F, PgSession&> {
    using R = std::invoke_result_t<F, PgSession&>;
    using Stored = std::conditional_t<std::is_void_v<R>, bool, R>;
    struct Shared {
      std::promise<R> promise;
      std::optional<Stored> value;
    };
    auto shared = std::make_shared<Shared>();
    auto future = shared->promise.get_future();
    enqueue(
        [shared, fn = std::move(fn)](PgSession& session) mutable {
          // Run again when another task of the batch failed: the last run is the one committed.
          if constexpr (std::is_void_v<R>) {
            fn(session);
            shared->value.emplace(true);
          } else {
            shared->value.emplace(fn(session));
          }
        },
        [shared](std::exception_ptr error) {
          if (error) return shared->promise.set_exception(error);
          if constexpr (std::is_void_v<R>) shared->promise.set_value();
          else shared->promise.set_value(std::move(*shared->value));
        },
        true, alone);
    return future.get();
  }
  void enqueue(Task task, std::function<void(std::exception_ptr)> after_commit, bool waited_for,
               bool alone = false);
  // Cuts `items` into consecutive transactions: each alone item on its own, the rest together.
  static std::vector<std::deque<Item>> transactions_of(std::deque<Item>& items);
  // Writes `items` in one transaction: answers the calls, notes the outcome, keeps failed
  // posted writes for a retry.
  void commit(std::deque<Item>& items);
  void loop();
  // Runs `items` in one transaction; the error if it did not commit (then rolled back). Items
  // that failed on their own are answered (or logged) and removed from `items`.
  std::exception_ptr run_transaction(std::deque<Item>& items);
  void answer_calls(std::deque<Item>& items, const std::exception_ptr& error);
  void retain(std::deque<Item>& posted);
  void note_commit(const std::exception_ptr& error);
  void give_up_retained(const char* why);

  std::unique_ptr<PgSession> session_;  // writer thread only
  const DbThreadLimits limits_;
  std::deque<Item> retained_;  // writer thread only: posted writes to retry, oldest first
  PgJobStateTally tally_;      // writer thread only: the open transaction's job_state changes
  PgKvWrites kv_;              // writer thread only: the open transaction's kv writes
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Item> queue_;
  uint64_t queued_ = 0, done_ = 0;
  size_t waited_for_ = 0;
  bool stopping_ = false;
  WriteHealth health_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace cronhost::store
