// The mail outbox half of the SQLite store: rows written by mail.send when a delivery failed, read
// and retried by the host's MailOutbox.
#include "store/sqlite_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include "store/db_thread.hpp"

namespace cronhost::store {

Result<int64_t> SqliteStore::outbox_add(const OutboxMail& mail, int64_t now) {
  try {
    return db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "INSERT INTO outbox (job, run_id, message, attempts, next_attempt_at, last_error, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, mail.job);
      if (mail.run_id) q.bind(2, *mail.run_id);
      q.bind(3, mail.message_json);
      q.bind(4, mail.attempts);
      q.bind(5, mail.next_attempt_at);
      q.bind(6, mail.last_error);
      q.bind(7, now);
      q.exec();
      return static_cast<int64_t>(db.getLastInsertRowid());
    });
  } catch (const std::exception& e) {
    return Result<int64_t>::error(std::string("cannot queue the mail in the state file: ") + e.what());
  }
}

Result<std::vector<OutboxMail>> SqliteStore::outbox_due(int64_t now, int limit) {
  try {
    return db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "SELECT id, job, run_id, message, attempts, next_attempt_at, last_error FROM outbox "
                          "WHERE next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?) "
                          "ORDER BY next_attempt_at, id LIMIT ?");
      q.bind(1, now);
      q.bind(2, now);
      q.bind(3, limit);
      std::vector<OutboxMail> due;
      while (q.executeStep()) {
        OutboxMail m;
        m.id = q.getColumn(0).getInt64();
        m.job = q.getColumn(1).getString();
        if (!q.getColumn(2).isNull()) m.run_id = q.getColumn(2).getInt64();
        m.message_json = q.getColumn(3).getString();
        m.attempts = q.getColumn(4).getInt();
        m.next_attempt_at = q.getColumn(5).getInt64();
        m.last_error = q.getColumn(6).getString();
        due.push_back(std::move(m));
      }
      SQLite::Statement lock(db, "UPDATE outbox SET locked_until = ? WHERE id = ?");
      for (const OutboxMail& m : due) {
        lock.reset();
        lock.bind(1, now + kOutboxLockMs);
        lock.bind(2, m.id);
        lock.exec();
      }
      return due;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<OutboxMail>>::error(std::string("cannot read the outbox: ") + e.what());
  }
}

std::optional<int64_t> SqliteStore::outbox_next_attempt() {
  try {
    return db_->call([](SQLite::Database& db) -> std::optional<int64_t> {
      SQLite::Statement q(db, "SELECT MIN(max(next_attempt_at, coalesce(locked_until, 0))) FROM outbox");
      if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
      return q.getColumn(0).getInt64();
    });
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Status SqliteStore::outbox_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, locked_until = NULL "
                              "WHERE id = ?");
      q.bind(1, attempts);
      q.bind(2, next_attempt_at);
      q.bind(3, error);
      q.bind(4, id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the outbox: ") + e.what());
  }
}

Status SqliteStore::outbox_remove(int64_t id) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "DELETE FROM outbox WHERE id = ?");
      q.bind(1, id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the outbox: ") + e.what());
  }
}

Status SqliteStore::run_add_note(int64_t run_id, const std::string& note) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "UPDATE runs SET notes = COALESCE(notes || char(10), '') || ? WHERE id = ?");
      q.bind(1, note);
      q.bind(2, run_id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot add a note to run ") + std::to_string(run_id) + ": " + e.what());
  }
}

}  // namespace cronhost::store
