// The mail outbox half of the PostgreSQL store (store/sqlite_outbox.cpp translated): rows
// written by mail.send when a delivery failed, read and retried by the host's MailOutbox.
#include <algorithm>
#include <tuple>

#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {

using namespace pg;

Result<int64_t> PgStore::outbox_add(const OutboxMail& mail, int64_t now) {
  try {
    return db_->call([&](PgSession& db) {
      auto rows = db.run("INSERT INTO outbox (job, run_id, message, attempts, next_attempt_at, last_error, created_at) "
                         "VALUES ($1, $2::bigint, $3, $4::int, $5::bigint, $6, $7::bigint) RETURNING id",
                         {param(mail.job), param(mail.run_id), param(mail.message_json), param(int64_t{mail.attempts}),
                          param(mail.next_attempt_at), param(mail.last_error), param(now)});
      return integer(rows.rows.at(0).at(0));
    });
  } catch (const std::exception& e) {
    return Result<int64_t>::error(std::string("cannot queue the mail in the state file: ") + e.what());
  }
}

Result<std::vector<OutboxMail>> PgStore::outbox_due(int64_t now, int limit) {
  try {
    return db_->call([&](PgSession& db) {
      // Taken, not only read: other hosts skip the rows this one locks (SKIP LOCKED while the
      // statement runs, locked_until after it, by the server's clock so that hosts agree).
      auto rows = db.run(
          "WITH due AS (SELECT id FROM outbox WHERE next_attempt_at <= $1::bigint AND (locked_until IS NULL OR "
          "locked_until <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
          "ORDER BY next_attempt_at, id LIMIT $2::bigint FOR UPDATE SKIP LOCKED) "
          "UPDATE outbox o SET locked_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3::bigint "
          "FROM due WHERE o.id = due.id "
          "RETURNING o.id, o.job, o.run_id, o.message, o.attempts, o.next_attempt_at, o.last_error",
          {param(now), param(int64_t{limit}), param(kOutboxLockMs)});
      std::vector<OutboxMail> due;
      for (const auto& row : rows.rows) {
        OutboxMail m;
        m.id = integer(row[0]);
        m.job = text(row[1]);
        m.run_id = optional_int(row[2]);
        m.message_json = text(row[3]);
        m.attempts = static_cast<int>(integer(row[4]));
        m.next_attempt_at = integer(row[5]);
        m.last_error = text(row[6]);
        due.push_back(std::move(m));
      }
      std::sort(due.begin(), due.end(), [](const OutboxMail& a, const OutboxMail& b) {
        return std::tie(a.next_attempt_at, a.id) < std::tie(b.next_attempt_at, b.id);
      });
      return due;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<OutboxMail>>::error(std::string("cannot read the outbox: ") + e.what());
  }
}

std::optional<int64_t> PgStore::outbox_next_attempt() {
  try {
    return db_->call([](PgSession& db) {
      return optional_int(db.run("SELECT MIN(GREATEST(next_attempt_at, coalesce(locked_until, 0))) FROM outbox").rows.at(0).at(0));
    });
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Status PgStore::outbox_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error) {
  try {
    db_->call([&](PgSession& db) {
      db.run("UPDATE outbox SET attempts = $1::int, next_attempt_at = $2::bigint, last_error = $3, locked_until = NULL "
             "WHERE id = $4::bigint",
             {param(int64_t{attempts}), param(next_attempt_at), param(error), param(id)});
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the outbox: ") + e.what());
  }
}

Status PgStore::outbox_remove(int64_t id) {
  try {
    db_->call([&](PgSession& db) { db.run("DELETE FROM outbox WHERE id = $1::bigint", {param(id)}); });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the outbox: ") + e.what());
  }
}

Status PgStore::run_add_note(int64_t run_id, const std::string& note) {
  try {
    db_->call([&](PgSession& db) {
      db.run("UPDATE runs SET notes = COALESCE(notes || chr(10), '') || $1::text WHERE id = $2::bigint",
             {script_text(note), param(run_id)});
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot add a note to run ") + std::to_string(run_id) + ": " + e.what());
  }
}

}  // namespace cronhost::store
