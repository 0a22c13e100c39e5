// Webhook delivery end to end on every backend: queue_webhook into a real store (a SQLite file,
// a PostgreSQL 15 database), the WebhookOutbox thread POSTing to a real HTTP receiver
// (tests/support/webhook_receiver.py) that verifies the signature itself.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <type_traits>

#include "../store/backends.hpp"
#include "notify/webhook_outbox.hpp"
#include "notify/webhook_target.hpp"
#include "util/clock.hpp"
#include "webhook_receiver.hpp"

using namespace cronhost;
using json = nlohmann::json;

namespace {

constexpr const char* kSecret = "whsec-4f2a9c0e1b";

json event(const std::string& name, int64_t run_id) {
  return {{"event", name},      {"job", "nightly-backup"}, {"host", "db1"}, {"at", "2026-12-04T03:00:07Z"},
          {"summary", "nightly-backup failed"}, {"run", {{"id", run_id}, {"attempt", 1}, {"status", "FAILED"}}},
          {"last_success_at", nullptr}, {"failures", 1}};
}

std::string text(const json& value) { return value.get<std::string>(); }

// Quick retries, so that a test sees several attempts within a second or two.
config::WebhookDeliverySettings quick(int attempts) {
  config::WebhookDeliverySettings s;
  s.attempts = attempts;
  s.backoff = std::chrono::milliseconds(100);
  s.max_backoff = std::chrono::milliseconds(400);
  s.timeout = std::chrono::seconds(5);
  return s;
}

notify::WebhookTarget target(const std::string& url, const std::string& secret = kSecret) {
  notify::WebhookTarget t;
  t.url = url;
  t.secret = secret;
  return t;
}

// Waits until the outbox holds no webhook still to deliver (up to 20 s).
template <typename Store>
void wait_settled(Store& store) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (store.webhook_next_attempt() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

STORE_CONTRACT_TEST("a queued webhook is delivered signed, with its headers, and leaves the outbox",
                    "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  test::WebhookReceiver receiver(kSecret);
  notify::WebhookTarget to = target(receiver.url("/ok"));
  to.headers = {{"Authorization", "Bearer tok-123456"}};
  to.secret_values = {"tok-123456"};
  const int64_t id = notify::queue_webhook(*store, to, event("failed", 42), now_ms()).value();
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox WHERE run_id = 42 AND event = 'failed'") == 1);

  notify::WebhookOutbox outbox(*store, quick(3), config::HttpSettings{});
  outbox.start();
  const auto got = receiver.wait_for([](const auto& r) { return !r.empty(); });
  wait_settled(*store);
  outbox.stop();

  REQUIRE(got.size() == 1);
  CHECK(got[0]["signature_ok"] == true);  // the receiver's own HMAC check, timestamp fresh
  CHECK(text(got[0]["signature"]).rfind("sha256=", 0) == 0);
  CHECK(got[0]["delivery"] == std::to_string(id));
  CHECK(got[0]["event"] == "failed");
  CHECK(got[0]["content_type"] == "application/json");
  CHECK(got[0]["authorization"] == "Bearer tok-123456");
  CHECK(json::parse(text(got[0]["body"])) == event("failed", 42));
  CHECK(outbox.counts().delivered == 1);
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox") == 0);
}

STORE_CONTRACT_TEST("an unsigned webhook carries no signature headers", "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  test::WebhookReceiver receiver;
  (void)notify::queue_webhook(*store, target(receiver.url("/ok"), ""), event("recovered", 1), now_ms()).value();
  notify::WebhookOutbox outbox(*store, quick(3), config::HttpSettings{});
  outbox.deliver_due();
  const auto got = receiver.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0]["signature"] == "");
  CHECK(got[0]["timestamp"] == "");
}

STORE_CONTRACT_TEST("a webhook answered 500 is retried with backoff until the receiver recovers",
                    "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  test::WebhookReceiver receiver(kSecret);
  (void)notify::queue_webhook(*store, target(receiver.url("/flaky/2")), event("failed", 5), now_ms()).value();
  notify::WebhookOutbox outbox(*store, quick(5), config::HttpSettings{});
  outbox.start();
  const auto got = receiver.wait_for([](const auto& r) { return r.size() >= 3; });
  wait_settled(*store);
  outbox.stop();

  REQUIRE(got.size() == 3);
  CHECK(got[0]["status"] == 500);
  CHECK(got[1]["status"] == 500);
  CHECK(got[2]["status"] == 200);
  for (const auto& r : got) {
    CHECK(r["signature_ok"] == true);  // signed afresh on each attempt
    CHECK(r["delivery"] == got[0]["delivery"]);  // one delivery id for all: receivers dedupe by it
  }
  // Doubling waits: 100 ms, then 200 ms.
  CHECK(outbox.counts().retried == 2);
  CHECK(outbox.counts().delivered == 1);
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox") == 0);
}

STORE_CONTRACT_TEST("a webhook answered 400 is given up at once and kept as failed, noted on its run",
                    "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  store::NewRun run;
  run.job = "nightly-backup";
  run.scheduled_for = 1'000;
  run.started_at = 1'000;
  const int64_t run_id = store->claim(run).value().value();
  test::WebhookReceiver receiver(kSecret);
  const int64_t id = notify::queue_webhook(*store, target(receiver.url("/bad")), event("failed", run_id), now_ms()).value();
  notify::WebhookOutbox outbox(*store, quick(5), config::HttpSettings{});
  outbox.deliver_due();
  outbox.deliver_due();  // nothing more: it is not retried

  CHECK(receiver.requests().size() == 1);
  CHECK(outbox.counts().failed == 1);
  CHECK(outbox.counts().retried == 0);
  const auto entries = store->webhook_entries(10).value();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].id == id);
  CHECK(entries[0].failed_at.has_value());
  CHECK(entries[0].attempts == 1);
  CHECK(entries[0].last_status == 400);
  CHECK(entries[0].last_error == "POST " + receiver.url("/bad") + ": HTTP 400 (receiver says 400)");
  CHECK(entries[0].target_json == "{}");  // the secret is not kept once there is nothing to send
  store->flush();
  const auto notes = store->run(run_id).value().notes;
  CHECK(notes.find("webhook failed to " + receiver.url("/bad") + " was not delivered after 1 attempt") !=
        std::string::npos);
}

STORE_CONTRACT_TEST("a webhook is given up after its last attempt, and 429 is retried", "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  test::WebhookReceiver receiver;
  (void)notify::queue_webhook(*store, target(receiver.url("/busy"), ""), event("failed", 9), now_ms()).value();
  notify::WebhookOutbox outbox(*store, quick(3), config::HttpSettings{});
  outbox.start();
  wait_settled(*store);
  outbox.stop();
  CHECK(receiver.requests().size() == 3);
  CHECK(outbox.counts().retried == 2);
  CHECK(outbox.counts().failed == 1);
  CHECK(store->webhook_entries(1).value().at(0).last_status == 429);
}

STORE_CONTRACT_TEST("a webhook redirect is followed on its host only", "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  test::WebhookReceiver receiver(kSecret);
  (void)notify::queue_webhook(*store, target(receiver.url("/away")), event("failed", 1), now_ms()).value();
  (void)notify::queue_webhook(*store, target(receiver.url("/moved")), event("failed", 2), now_ms()).value();
  notify::WebhookOutbox outbox(*store, quick(3), config::HttpSettings{});
  outbox.deliver_due();

  const auto got = receiver.requests();
  REQUIRE(got.size() == 3);  // /away (refused, never followed), /moved and /ok
  CHECK(got[0]["path"] == "/away");
  CHECK(got[1]["path"] == "/moved");
  CHECK(got[2]["path"] == "/ok");
  CHECK(got[2]["signature_ok"] == true);
  CHECK(outbox.counts().delivered == 1);
  CHECK(outbox.counts().failed == 1);  // permanent: a redirect elsewhere is not retried
  const auto entries = store->webhook_entries(10).value();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].last_error.find("a redirect to another host (http://127.0.0.2:") != std::string::npos);
}

STORE_CONTRACT_TEST("secret values in a webhook URL never reach the outbox's errors or display URL",
                    "[notify][webhook]") {
  Backend backend;
  auto store = backend.open();
  notify::WebhookTarget to = target("http://127.0.0.1:1/services/T000/XOXB-very-secret", "");
  to.secret_values = {"XOXB-very-secret"};
  (void)notify::queue_webhook(*store, to, event("failed", 1), now_ms()).value();
  notify::WebhookOutbox outbox(*store, quick(1), config::HttpSettings{});
  outbox.deliver_due();  // connection refused on port 1: one attempt, given up
  const auto entries = store->webhook_entries(1).value();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].url == "http://127.0.0.1:1/services/T000/***");
  CHECK_FALSE(entries[0].last_error.empty());
  CHECK(entries[0].last_error.find("XOXB-very-secret") == std::string::npos);
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox WHERE target LIKE '%XOXB%'") == 0);

  auto bad = notify::queue_webhook(*store, target("ftp://files.example.com/XOXB-very-secret-2", ""), event("failed", 1),
                                   now_ms());
  REQUIRE_FALSE(bad);
  CHECK(bad.message() == "webhook url \"ftp://files.example.com/XOXB-very-secret-2\" is not an http:// or https:// URL with a host");
  notify::WebhookTarget hidden = target("ftp://files.example.com/XOXB-very-secret-2", "");
  hidden.secret_values = {"XOXB-very-secret-2"};
  CHECK(notify::queue_webhook(*store, hidden, event("failed", 1), now_ms()).message() ==
        "webhook url \"ftp://files.example.com/***\" is not an http:// or https:// URL with a host");
}

TEST_CASE("two hosts' webhook outboxes on one PostgreSQL state never deliver a webhook twice",
          "[notify][webhook][db]") {
  test::PgBackend backend;
  auto first = backend.open();
  auto second = backend.second_connection();  // another host's connection to the same database
  test::WebhookReceiver receiver(kSecret);
  constexpr int kWebhooks = 40;
  std::set<std::string> queued;
  for (int i = 0; i < kWebhooks; ++i)  // each answer takes 30 ms: the two hosts overlap
    queued.insert(std::to_string(
        notify::queue_webhook(*first, target(receiver.url("/slow/30")), event("failed", i), now_ms()).value()));
  notify::WebhookOutbox a(*first, quick(3), config::HttpSettings{});
  notify::WebhookOutbox b(*second, quick(3), config::HttpSettings{});
  a.start();
  b.start();
  const auto got = receiver.wait_for([](const auto& r) { return r.size() >= kWebhooks; });
  wait_settled(*first);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a duplicate would arrive meanwhile
  a.stop();
  b.stop();

  std::map<std::string, int> per_delivery;
  for (const auto& r : receiver.requests()) ++per_delivery[text(r["delivery"])];
  CHECK(per_delivery.size() == kWebhooks);
  for (const auto& [delivery, times] : per_delivery) {
    INFO("delivery " << delivery);
    CHECK(times == 1);
    CHECK(queued.count(delivery) == 1);
  }
  CHECK(a.counts().delivered + b.counts().delivered == kWebhooks);
  CHECK(backend.scalar("SELECT count(*) FROM webhook_outbox") == 0);
}
