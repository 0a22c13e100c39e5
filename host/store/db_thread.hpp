// One thread owns the SQLite connection; everything else hands it work. Work that arrives
// while a transaction is being written joins the next one, so many small writes cost one
// commit (group commit). Thread-safe: call() and post() may be used from any thread.
#pragma once
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <thread>
#include <type_traits>

namespace cronhost::store {

class DbThread {
 public:
  using Task = std::function<void(SQLite::Database&)>;

  // Takes the open connection; `transactional`: run each batch inside BEGIN ... COMMIT.
  DbThread(std::unique_ptr<SQLite::Database> db, bool transactional);
  ~DbThread();  // finishes every queued task first
  DbThread(const DbThread&) = delete;
  DbThread& operator=(const DbThread&) = delete;

  // Runs `fn` on the database thread and returns its result once its batch has committed
  // (so a claim is durable before the caller acts on it). Exceptions from `fn` or from the
  // commit are rethrown here.
  template <typename F>
  auto call(F fn) -> std::invoke_result_t<F, SQLite::Database&> {
    using R = std::invoke_result_t<F, SQLite::Database&>;
    using Stored = std::conditional_t<std::is_void_v<R>, bool, R>;
    struct Shared {
      std::promise<R> promise;
      std::optional<Stored> value;
      std::exception_ptr error;
    };
    auto shared = std::make_shared<Shared>();
    auto future = shared->promise.get_future();
    enqueue(
        [shared, fn = std::move(fn)](SQLite::Database& db) mutable {
          try {
            if constexpr (std::is_void_v<R>) {
              fn(db);
              shared->value.emplace(true);
            } else {
              shared->value.emplace(fn(db));
            }
          } catch (const std::exception&) {
            shared->error = std::current_exception();
          }
        },
        [shared](std::exception_ptr commit_error) {
          if (auto e = shared->error ? shared->error : commit_error) return shared->promise.set_exception(e);
          if constexpr (std::is_void_v<R>) shared->promise.set_value();
          else shared->promise.set_value(std::move(*shared->value));
        },
        true);
    return future.get();
  }

  // Queues `fn`; returns at once. Failures are logged.
  void post(Task fn);

  // A prepared statement for `sql` (a string literal), reset and ready to bind. Only for use
  // inside tasks, on the database thread: preparing once saves ~5 us per use.
  SQLite::Statement& statement(const char* sql);
  // Waits until everything queued so far has committed.
  void flush();

 private:
  struct Item {
    Task task;
    std::function<void(std::exception_ptr)> after_commit;
  };
  void enqueue(Task task, std::function<void(std::exception_ptr)> after_commit, bool waited_for);
  void loop();

  std::unique_ptr<SQLite::Database> db_;
  const bool transactional_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;  // database thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Item> queue_;
  uint64_t queued_ = 0, done_ = 0;
  size_t waited_for_ = 0;  // queued call()s: someone blocks on these
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cronhost::store
