// The webhook outbox half of the SQLite store: rows queued by notify::queue_webhook, taken,
// retried and given up by the host's notify::WebhookOutbox.
#include <SQLiteCpp/SQLiteCpp.h>

#include "store/column_values.hpp"
#include "store/db_thread.hpp"
#include "store/sqlite_store.hpp"

namespace cronhost::store {
namespace {

constexpr const char* kColumns =
    "id, job, run_id, event, format, body, target, url, attempts, next_attempt_at, last_error, last_status, "
    "created_at, failed_at";

OutboxWebhook read_row(SQLite::Statement& q) {
  OutboxWebhook w;
  w.id = q.getColumn(0).getInt64();
  w.job = q.getColumn(1).getString();
  if (!q.getColumn(2).isNull()) w.run_id = q.getColumn(2).getInt64();
  w.event = q.getColumn(3).getString();
  w.format = q.getColumn(4).getString();
  w.body = q.getColumn(5).getString();
  w.target_json = q.getColumn(6).getString();
  w.url = q.getColumn(7).getString();
  w.attempts = q.getColumn(8).getInt();
  w.next_attempt_at = q.getColumn(9).getInt64();
  w.last_error = q.getColumn(10).getString();
  if (!q.getColumn(11).isNull()) w.last_status = q.getColumn(11).getInt();
  w.created_at = q.getColumn(12).getInt64();
  if (!q.getColumn(13).isNull()) w.failed_at = q.getColumn(13).getInt64();
  return w;
}

}  // namespace

Result<int64_t> SqliteStore::webhook_add(const OutboxWebhook& webhook, int64_t now) {
  try {
    return db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "INSERT INTO webhook_outbox (job, run_id, event, format, body, target, url, attempts, "
                          "next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, webhook.job);
      if (webhook.run_id) q.bind(2, *webhook.run_id);
      q.bind(3, webhook.event);
      q.bind(4, webhook.format);
      q.bind(5, webhook.body);
      q.bind(6, webhook.target_json);
      q.bind(7, webhook.url);
      q.bind(8, webhook.attempts);
      q.bind(9, webhook.next_attempt_at);
      if (!webhook.last_error.empty()) q.bind(10, webhook.last_error);
      q.bind(11, now);
      q.exec();
      return static_cast<int64_t>(db.getLastInsertRowid());
    });
  } catch (const std::exception& e) {
    return Result<int64_t>::error(std::string("cannot queue the webhook in the state file: ") + e.what());
  }
}

Result<std::vector<OutboxWebhook>> SqliteStore::webhook_due(int64_t now, int limit) {
  try {
    return db_->call([&](SQLite::Database& db) {
      // One host per state file: the database thread runs this read and the locks as one step.
      SQLite::Statement q(db, std::string("SELECT ") + kColumns +
                                  " FROM webhook_outbox WHERE failed_at IS NULL AND next_attempt_at <= ? "
                                  "AND (locked_until IS NULL OR locked_until <= ?) ORDER BY next_attempt_at, id LIMIT ?");
      q.bind(1, now);
      q.bind(2, now);
      q.bind(3, limit);
      std::vector<OutboxWebhook> due;
      while (q.executeStep()) due.push_back(read_row(q));
      SQLite::Statement lock(db, "UPDATE webhook_outbox SET locked_until = ? WHERE id = ?");
      for (const OutboxWebhook& w : due) {
        lock.reset();
        lock.bind(1, now + kWebhookLockMs);
        lock.bind(2, w.id);
        lock.exec();
      }
      return due;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<OutboxWebhook>>::error(std::string("cannot read the webhook outbox: ") + e.what());
  }
}

std::optional<int64_t> SqliteStore::webhook_next_attempt() {
  try {
    return db_->call([](SQLite::Database& db) -> std::optional<int64_t> {
      SQLite::Statement q(db, "SELECT MIN(max(next_attempt_at, coalesce(locked_until, 0))) FROM webhook_outbox "
                              "WHERE failed_at IS NULL");
      if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
      return q.getColumn(0).getInt64();
    });
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Status SqliteStore::webhook_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error,
                                     std::optional<int> status) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, "
                              "last_status = ?, locked_until = NULL WHERE id = ?");
      q.bind(1, attempts);
      q.bind(2, next_attempt_at);
      q.bind(3, error);
      bind_or_null(q, 4, status);
      q.bind(5, id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the webhook outbox: ") + e.what());
  }
}

Status SqliteStore::webhook_delivered(int64_t id) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "DELETE FROM webhook_outbox WHERE id = ?");
      q.bind(1, id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the webhook outbox: ") + e.what());
  }
}

Status SqliteStore::webhook_give_up(int64_t id, int attempts, const std::string& error, std::optional<int> status,
                                    int64_t now) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "UPDATE webhook_outbox SET attempts = ?, last_error = ?, last_status = ?, failed_at = ?, "
                              "target = '{}', locked_until = NULL WHERE id = ?");
      q.bind(1, attempts);
      q.bind(2, error);
      bind_or_null(q, 3, status);
      q.bind(4, now);
      q.bind(5, id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the webhook outbox: ") + e.what());
  }
}

Result<std::vector<OutboxWebhook>> SqliteStore::webhook_entries(int limit) {
  try {
    return db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, std::string("SELECT ") + kColumns + " FROM webhook_outbox ORDER BY id DESC LIMIT ?");
      q.bind(1, limit);
      std::vector<OutboxWebhook> rows;
      while (q.executeStep()) rows.push_back(read_row(q));
      return rows;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<OutboxWebhook>>::error(std::string("cannot read the webhook outbox: ") + e.what());
  }
}

Result<int64_t> SqliteStore::webhook_prune_failed(int64_t failed_before) {
  try {
    return db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "DELETE FROM webhook_outbox WHERE failed_at < ?");
      q.bind(1, failed_before);
      return static_cast<int64_t>(q.exec());
    });
  } catch (const std::exception& e) {
    return Result<int64_t>::error(std::string("cannot prune the webhook outbox: ") + e.what());
  }
}

}  // namespace cronhost::store
