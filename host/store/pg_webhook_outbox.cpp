// The webhook outbox half of the PostgreSQL store (store/sqlite_webhook_outbox.cpp translated):
// rows queued by notify::queue_webhook, taken, retried and given up by notify::WebhookOutbox on
// any of the hosts sharing the database, each row by one host at a time.
#include <algorithm>
#include <tuple>

#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {

using namespace pg;

namespace {

constexpr const char* kColumns =
    "o.id, o.job, o.run_id, o.event, o.format, o.body, o.target, o.url, o.attempts, o.next_attempt_at, o.last_error, "
    "o.last_status, o.created_at, o.failed_at";

template <typename Row>
OutboxWebhook read_row(const Row& row) {
  OutboxWebhook w;
  w.id = integer(row[0]);
  w.job = text(row[1]);
  w.run_id = optional_int(row[2]);
  w.event = text(row[3]);
  w.format = text(row[4]);
  w.body = text(row[5]);
  w.target_json = text(row[6]);
  w.url = text(row[7]);
  w.attempts = static_cast<int>(integer(row[8]));
  w.next_attempt_at = integer(row[9]);
  w.last_error = text(row[10]);
  if (auto status = optional_int(row[11])) w.last_status = static_cast<int>(*status);
  w.created_at = integer(row[12]);
  w.failed_at = optional_int(row[13]);
  return w;
}

PgParam status_param(std::optional<int> status) {
  return status ? param(int64_t{*status}) : PgParam(std::nullopt);
}

}  // namespace

Result<int64_t> PgStore::webhook_add(const OutboxWebhook& webhook, int64_t now) {
  try {
    return db_->call([&](PgSession& db) {
      auto rows = db.run("INSERT INTO webhook_outbox (job, run_id, event, format, body, target, url, attempts, "
                         "next_attempt_at, last_error, created_at) VALUES ($1, $2::bigint, $3, $4, $5, $6, $7, $8::int, "
                         "$9::bigint, $10, $11::bigint) RETURNING id",
                         {param(webhook.job), param(webhook.run_id), param(webhook.event), param(webhook.format),
                          script_text(webhook.body), script_text(webhook.target_json), script_text(webhook.url),
                          param(int64_t{webhook.attempts}), param(webhook.next_attempt_at),
                          script_text_or_null(webhook.last_error), param(now)});
      return integer(rows.rows.at(0).at(0));
    });
  } catch (const std::exception& e) {
    return Result<int64_t>::error(std::string("cannot queue the webhook in the state database: ") + e.what());
  }
}

Result<std::vector<OutboxWebhook>> PgStore::webhook_due(int64_t now, int limit) {
  try {
    return db_->call([&](PgSession& db) {
      // Taken, not only read: other hosts skip the rows this one locks (SKIP LOCKED while the
      // statement runs, locked_until after it, by the server's clock so that hosts agree).
      auto rows = db.run(
          "WITH due AS (SELECT id FROM webhook_outbox WHERE failed_at IS NULL AND next_attempt_at <= $1::bigint AND "
          "(locked_until IS NULL OR locked_until <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
          "ORDER BY next_attempt_at, id LIMIT $2::bigint FOR UPDATE SKIP LOCKED) "
          "UPDATE webhook_outbox o SET locked_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + "
          "$3::bigint FROM due WHERE o.id = due.id RETURNING " +
              std::string(kColumns),
          {param(now), param(int64_t{limit}), param(kWebhookLockMs)});
      std::vector<OutboxWebhook> due;
      for (const auto& row : rows.rows) due.push_back(read_row(row));
      std::sort(due.begin(), due.end(), [](const OutboxWebhook& a, const OutboxWebhook& b) {
        return std::tie(a.next_attempt_at, a.id) < std::tie(b.next_attempt_at, b.id);
      });
      return due;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<OutboxWebhook>>::error(std::string("cannot read the webhook outbox: ") + e.what());
  }
}

std::optional<int64_t> PgStore::webhook_next_attempt() {
  try {
    return db_->call([](PgSession& db) {
      return optional_int(db.run("SELECT MIN(GREATEST(next_attempt_at, coalesce(locked_until, 0))) FROM webhook_outbox "
                                 "WHERE failed_at IS NULL")
                              .rows.at(0)
                              .at(0));
    });
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Status PgStore::webhook_retry_at(int64_t id, int attempts, int64_t next_attempt_at, const std::string& error,
                                 std::optional<int> status) {
  try {
    db_->call([&](PgSession& db) {
      db.run("UPDATE webhook_outbox SET attempts = $1::int, next_attempt_at = $2::bigint, last_error = $3, "
             "last_status = $4::int, locked_until = NULL WHERE id = $5::bigint",
             {param(int64_t{attempts}), param(next_attempt_at), script_text(error), status_param(status), param(id)});
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the webhook outbox: ") + e.what());
  }
}

Status PgStore::webhook_delivered(int64_t id) {
  try {
    db_->call([&](PgSession& db) { db.run("DELETE FROM webhook_outbox WHERE id = $1::bigint", {param(id)}); });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the webhook outbox: ") + e.what());
  }
}

Status PgStore::webhook_give_up(int64_t id, int attempts, const std::string& error, std::optional<int> status,
                                int64_t now) {
  try {
    db_->call([&](PgSession& db) {
      db.run("UPDATE webhook_outbox SET attempts = $1::int, last_error = $2, last_status = $3::int, "
             "failed_at = $4::bigint, target = '{}', locked_until = NULL WHERE id = $5::bigint",
             {param(int64_t{attempts}), script_text(error), status_param(status), param(now), param(id)});
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot update the webhook outbox: ") + e.what());
  }
}

Result<std::vector<OutboxWebhook>> PgStore::webhook_entries(int limit) {
  try {
    return db_->call([&](PgSession& db) {
      auto rows = db.run("SELECT " + std::string(kColumns) + " FROM webhook_outbox o ORDER BY o.id DESC LIMIT $1::bigint",
                         {param(int64_t{limit})});
      std::vector<OutboxWebhook> entries;
      for (const auto& row : rows.rows) entries.push_back(read_row(row));
      return entries;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<OutboxWebhook>>::error(std::string("cannot read the webhook outbox: ") + e.what());
  }
}

Result<int64_t> PgStore::webhook_prune_failed(int64_t failed_before) {
  try {
    return db_->call([&](PgSession& db) {
      return static_cast<int64_t>(
          db.run("DELETE FROM webhook_outbox WHERE failed_at < $1::bigint RETURNING id", {param(failed_before)}).rows.size());
    });
  } catch (const std::exception& e) {
    return Result<int64_t>::error(std::string("cannot prune the webhook outbox: ") + e.what());
  }
}

}  // namespace cronhost::store
