#include "store/db_thread.hpp"

#include <spdlog/spdlog.h>

namespace cronhost::store {

DbThread::DbThread(std::unique_ptr<SQLite::Database> db, bool transactional)
    : db_(std::move(db)), transactional_(transactional), thread_([this] { loop(); }) {}

DbThread::~DbThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  statements_.clear();  // before the connection closes
}

void DbThread::enqueue(Task task, std::function<void(std::exception_ptr)> after_commit) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(task), std::move(after_commit)});
    ++queued_;
  }
  wake_.notify_one();
}

void DbThread::post(Task fn) {
  enqueue(
      [fn = std::move(fn)](SQLite::Database& db) {
        try {
          fn(db);
        } catch (const std::exception& e) {
          spdlog::error("state file write failed: {}", e.what());
        }
      },
      nullptr);
}

SQLite::Statement& DbThread::statement(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) {
    slot = std::make_unique<SQLite::Statement>(*db_, sql);
  } else {
    slot->reset();
    slot->clearBindings();
  }
  return *slot;
}

void DbThread::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_;
  drained_.wait(lock, [&] { return done_ >= target; });
}

void DbThread::loop() {
  std::deque<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      batch.swap(queue_);
    }
    std::exception_ptr commit_error;
    try {
      if (transactional_) db_->exec("BEGIN");
      for (auto& item : batch) item.task(*db_);
      if (transactional_) db_->exec("COMMIT");
    } catch (const std::exception& e) {
      commit_error = std::current_exception();
      spdlog::error("state file commit failed: {}", e.what());
      try {
        if (transactional_) db_->exec("ROLLBACK");
      } catch (const std::exception&) {
        // already rolled back by SQLite
      }
    }
    for (auto& item : batch)
      if (item.after_commit) item.after_commit(commit_error);
    {
      std::lock_guard lock(mutex_);
      done_ += batch.size();
    }
    drained_.notify_all();
    batch.clear();
  }
}

}  // namespace cronhost::store
