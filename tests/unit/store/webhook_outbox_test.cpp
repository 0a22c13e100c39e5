// The webhook outbox on every backend (store/backends.hpp): due webhooks are taken, not only
// read, so two hosts sharing a store never deliver one at the same time; a given-up webhook
// stays visible with its secrets cleared.
#include <catch2/catch.hpp>

#include <type_traits>

#include "backends.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using namespace cronhost::store;

namespace {

constexpr int64_t kNow = 1'800'000'000'000;

OutboxWebhook webhook(const std::string& job, int64_t next_attempt_at) {
  OutboxWebhook w;
  w.job = job;
  w.run_id = 7;
  w.event = "failed";
  w.format = "json";
  w.body = R"({"event":"failed","job":")" + job + R"("})";
  w.target_json = R"({"url":"https://hooks.example.com/T1","secret":"s3cret-value"})";
  w.url = "https://hooks.example.com/***";
  w.next_attempt_at = next_attempt_at;
  return w;
}

}  // namespace

STORE_CONTRACT_TEST("due webhooks are taken by one host until retried, delivered or given up", "[store][webhook]") {
  Backend backend;
  auto host = backend.open();
  auto other = backend.second_connection();  // a second host on the same store
  const int64_t a = host->webhook_add(webhook("a", kNow), kNow).value();
  const int64_t b = host->webhook_add(webhook("b", kNow + 60'000), kNow).value();
  CHECK(host->webhook_next_attempt() == kNow);

  auto due = host->webhook_due(kNow, 10).value();
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == a);
  CHECK(due[0].job == "a");
  CHECK(due[0].run_id == 7);
  CHECK(due[0].event == "failed");
  CHECK(due[0].body == R"({"event":"failed","job":"a"})");
  CHECK(due[0].target_json == R"({"url":"https://hooks.example.com/T1","secret":"s3cret-value"})");
  CHECK(due[0].attempts == 0);
  CHECK(due[0].created_at == kNow);
  CHECK(other->webhook_due(kNow, 10).value().empty());  // taken: not handed out again
  CHECK(host->webhook_due(kNow, 10).value().empty());

  // A failed attempt frees it for its next try, which any host may take.
  REQUIRE(host->webhook_retry_at(a, 1, kNow + 1000, "POST https://hooks.example.com/***: HTTP 503", 503));
  auto again = other->webhook_due(kNow + 1000, 10).value();
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == a);
  CHECK(again[0].attempts == 1);
  CHECK(again[0].last_status == 503);
  CHECK(again[0].last_error == "POST https://hooks.example.com/***: HTTP 503");

  // Given up: kept, no longer due, its target (and so its secret) cleared.
  REQUIRE(other->webhook_give_up(a, 2, "HTTP 400", 400, kNow + 2000));
  CHECK(host->webhook_due(kNow + 10 * kWebhookLockMs, 10).value().size() == 1);  // only b
  auto entries = host->webhook_entries(10).value();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].id == b);  // newest first
  CHECK(entries[1].id == a);
  CHECK(entries[1].failed_at == kNow + 2000);
  CHECK(entries[1].attempts == 2);
  CHECK(entries[1].last_status == 400);
  CHECK(entries[1].target_json == "{}");
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox WHERE target LIKE '%s3cret%'") == 1);  // b's, still to send

  REQUIRE(host->webhook_delivered(b));
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox") == 1);
  CHECK_FALSE(host->webhook_next_attempt().has_value());  // a failed one is never due
}

STORE_CONTRACT_TEST("a host that dies mid-send leaves the webhook to another once its lock runs out",
                    "[store][webhook]") {
  Backend backend;
  auto host = backend.open();
  auto other = backend.second_connection();
  const int64_t id = host->webhook_add(webhook("a", kNow), kNow).value();
  REQUIRE(host->webhook_due(kNow, 10).value().size() == 1);
  if constexpr (std::is_same_v<Backend, test::SqliteBackend>) {
    // SQLite counts on the caller's clock.
    CHECK(other->webhook_due(kNow + kWebhookLockMs - 1, 10).value().empty());
    CHECK(other->webhook_due(kNow + kWebhookLockMs, 10).value().size() == 1);
  } else {
    // PostgreSQL on the server's, the same for every host: the lock is moved into the past.
    backend.execute("UPDATE webhook_outbox SET locked_until = locked_until - " + std::to_string(kWebhookLockMs + 1000));
    auto taken = other->webhook_due(kNow + 1, 10).value();
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].id == id);
  }
}

STORE_CONTRACT_TEST("failed webhooks are pruned after the history's retention, waiting ones never",
                    "[store][webhook]") {
  Backend backend;
  auto store = backend.open();
  const int64_t old_failure = store->webhook_add(webhook("a", kNow), kNow).value();
  const int64_t new_failure = store->webhook_add(webhook("b", kNow), kNow).value();
  const int64_t waiting = store->webhook_add(webhook("c", kNow - 100 * 86'400'000LL), kNow).value();
  REQUIRE(store->webhook_give_up(old_failure, 8, "HTTP 503", 503, kNow - 10 * 86'400'000LL));
  REQUIRE(store->webhook_give_up(new_failure, 8, "HTTP 503", 503, kNow - 86'400'000LL));
  CHECK(store->webhook_prune_failed(kNow - 7 * 86'400'000LL).value() == 1);
  std::vector<int64_t> left;
  for (const auto& w : store->webhook_entries(10).value()) left.push_back(w.id);
  CHECK(left == std::vector<int64_t>{waiting, new_failure});
}
