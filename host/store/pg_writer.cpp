#include "store/pg_writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "util/clock.hpp"
#include "util/log.hpp"

namespace cronhost::store {
namespace {

using namespace std::chrono_literals;

// As in db_thread.cpp: gather a little more before committing when nobody waits; back off
// 50 ms doubling to 1 s after a failed commit; end a failure streak only with a commit that
// writes 5 s after the last failure.
constexpr auto kLinger = std::chrono::milliseconds(2);
constexpr size_t kEnoughToCommit = 256;
constexpr auto kFirstBackoff = 50ms;
constexpr auto kMaxBackoff = 1000ms;
constexpr int64_t kStreakEndsAfterMs = 5'000;

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "unknown error";
}


}  // namespace

PgWriter::PgWriter(std::unique_ptr<PgSession> session, DbThreadLimits limits)
    : session_(std::move(session)), limits_(limits), thread_([this] { loop(); }) {}

PgWriter::~PgWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PgWriter::enqueue(Task task, std::function<void(std::exception_ptr)> after_commit, bool waited_for,
                       bool alone) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(task), std::move(after_commit), alone});
    ++queued_;
    waited_for_ += waited_for;
  }
  wake_.notify_one();
}

void PgWriter::post(Task fn) { enqueue(std::move(fn), nullptr, false); }

void PgWriter::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_;
  drained_.wait(lock, [&] { return done_ >= target; });
}

WriteHealth PgWriter::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

std::exception_ptr PgWriter::run_transaction(std::deque<Item>& items) {
  PgSession& session = *session_;
  const auto roll_back = [&session] {
    try {
      if (session.in_transaction()) session.run("ROLLBACK");
    } catch (const std::exception& e) {
      log_event(spdlog::level::debug, "state database rollback failed", {{"error", e.what()}});
    }
  };
  // The job_state changes are written once, at the end, in job order; when that statement
  // fails on its own (a row the table refuses), the batch runs again writing them after each
  // task, so the task that brought the bad change is the one that fails.
  bool tally_per_task = false;
  while (!items.empty()) {
    size_t failed = items.size();
    std::exception_ptr item_error;
    try {
      session.run("BEGIN");
      tally_.clear();  // a batch run again after a rollback gathers its changes again
      kv_.clear();
      for (size_t i = 0; i < items.size() && failed == items.size(); ++i) {
        try {
          items[i].task(session);
          if (tally_per_task) {
            kv_.write(session);
            tally_.write(session);
          }
        } catch (const PgError& e) {
          if (e.worth_retrying()) throw;  // the whole batch: kept and retried
          failed = i, item_error = std::current_exception();
        } catch (const std::exception&) {
          failed = i, item_error = std::current_exception();
        }
      }
      if (failed == items.size()) {
        try {
          kv_.write(session);
          tally_.write(session);
        } catch (const PgError& e) {
          if (e.worth_retrying() || tally_per_task) throw;
          roll_back();
          tally_per_task = true;
          continue;
        }
        session.run("COMMIT");
        return nullptr;
      }
    } catch (const std::exception&) {
      const auto error = std::current_exception();
      roll_back();
      return error;
    }
    // One task failed on its own: PostgreSQL aborted the transaction, so the batch runs again
    // without it (the others' effects were rolled back with it).
    roll_back();
    Item bad = std::move(items[failed]);
    items.erase(items.begin() + static_cast<std::ptrdiff_t>(failed));
    if (bad.after_commit) bad.after_commit(item_error);
    else log_event(spdlog::level::err, "state database write failed", {{"error", message_of(item_error)}});
  }
  return nullptr;
}

std::vector<std::deque<PgWriter::Item>> PgWriter::transactions_of(std::deque<Item>& items) {
  std::vector<std::deque<Item>> transactions;
  for (auto& item : items) {
    if (item.alone || transactions.empty() || transactions.back().front().alone) transactions.emplace_back();
    transactions.back().push_back(std::move(item));
  }
  items.clear();
  return transactions;
}

void PgWriter::commit(std::deque<Item>& items) {
  const int64_t changes_before = session_->total_changes();
  const auto error = run_transaction(items);
  answer_calls(items, error);
  // A commit that wrote nothing (reads only) proves nothing about the database.
  if (error || session_->total_changes() != changes_before) note_commit(error);
  if (error) retain(items);
}

void PgWriter::answer_calls(std::deque<Item>& items, const std::exception_ptr& error) {
  for (auto& item : items)
    if (item.after_commit) item.after_commit(error);
}

void PgWriter::retain(std::deque<Item>& posted) {
  for (auto& item : posted)
    if (!item.after_commit) retained_.push_back(std::move(item));
  const size_t dropped = retained_.size() > limits_.max_retained ? retained_.size() - limits_.max_retained : 0;
  retained_.erase(retained_.begin(), retained_.begin() + static_cast<std::ptrdiff_t>(dropped));
  std::lock_guard lock(mutex_);
  if (dropped > 0 && health_.retained < limits_.max_retained)
    log_event(spdlog::level::err, "state database writes given up: too many waiting for a retry",
              {{"dropped", dropped}, {"limit", limits_.max_retained}, {"error", health_.last_error}});
  health_.lost += dropped;
  health_.retained = retained_.size();
}

void PgWriter::note_commit(const std::exception_ptr& error) {
  std::lock_guard lock(mutex_);
  health_.retained = retained_.size();
  if (error) {
    health_.last_error = message_of(error);
    health_.last_failure_ms = now_ms();
    if (health_.failed_commits++ == 0) {
      health_.failing_since_ms = now_ms();
      log_event(spdlog::level::err, "state database commits are failing; queued writes are kept and retried",
                {{"error", health_.last_error}});
    }
  } else if (health_.failed_commits > 0 && now_ms() - health_.last_failure_ms >= kStreakEndsAfterMs) {
    log_event(spdlog::level::info, "state database commits succeed again",
              {{"failed_commits", health_.failed_commits}, {"failing_ms", now_ms() - health_.failing_since_ms}});
    health_.failed_commits = 0;
    health_.failing_since_ms = 0;
  }
}

void PgWriter::give_up_retained(const char* why) {
  std::lock_guard lock(mutex_);
  if (retained_.empty()) return;
  log_event(spdlog::level::err, "state database writes lost: the state database could not take them",
            {{"writes", retained_.size()}, {"error", health_.last_error}, {"why", why}});
  health_.lost += retained_.size();
  retained_.clear();
  health_.retained = 0;
}

void PgWriter::loop() {
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  std::optional<std::chrono::steady_clock::time_point> give_up_at;
  for (;;) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mutex_);
      if (retained_.empty()) {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        if (waited_for_ == 0 && queue_.size() < kEnoughToCommit && !stopping_)
          wake_.wait_for(lock, kLinger, [&] { return stopping_ || waited_for_ > 0 || queue_.size() >= kEnoughToCommit; });
      } else {
        const auto now = std::chrono::steady_clock::now();
        if (stopping_ && !give_up_at) give_up_at = now + limits_.stop_deadline;
        if (give_up_at && now >= *give_up_at) {
          lock.unlock();
          give_up_retained("the host is stopping");
          continue;
        }
        auto until = now + backoff;
        if (give_up_at) until = std::min(until, *give_up_at);
        wake_.wait_until(lock, until, [&] { return waited_for_ > 0 || (stopping_ && !give_up_at); });
      }
      batch.swap(queue_);
      waited_for_ = 0;
    }
    const size_t taken = batch.size();
    if (retained_.empty()) {
      for (auto& transaction : transactions_of(batch)) commit(transaction);
    } else {
      std::deque<Item> calls, posted;
      for (auto& item : batch) (item.after_commit ? calls : posted).push_back(std::move(item));
      for (auto& transaction : transactions_of(calls)) {
        const auto error = run_transaction(transaction);
        answer_calls(transaction, error);
        if (error) note_commit(error);
      }
      retain(posted);
      const auto error = run_transaction(retained_);
      if (!error) retained_.clear();
      note_commit(error);
    }
    backoff = retained_.empty() ? std::chrono::milliseconds(kFirstBackoff) : std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    {
      std::lock_guard lock(mutex_);
      done_ += taken;
    }
    drained_.notify_all();
  }
}

}  // namespace cronhost::store
