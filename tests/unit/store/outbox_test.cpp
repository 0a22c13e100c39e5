// The mail outbox on every backend (store/backends.hpp): due mail is taken, not only read, so
// two hosts sharing a store never send one mail at the same time.
#include <catch2/catch.hpp>

#include <type_traits>

#include "backends.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using namespace cronhost::store;

namespace {

constexpr int64_t kNow = 1'800'000'000'000;

OutboxMail mail(const std::string& job, int64_t next_attempt_at) {
  OutboxMail m;
  m.job = job;
  m.message_json = R"({"subject":"report for )" + job + R"("})";
  m.attempts = 1;
  m.next_attempt_at = next_attempt_at;
  m.last_error = "connection refused";
  return m;
}

}  // namespace

STORE_CONTRACT_TEST("due mail is taken by one host until it is retried or removed", "[store][outbox]") {
  Backend backend;
  auto host = backend.open();
  auto other = backend.second_connection();  // a second host on the same store
  const int64_t a = host->outbox_add(mail("a", kNow), kNow).value();
  const int64_t b = host->outbox_add(mail("b", kNow + 60'000), kNow).value();

  auto due = host->outbox_due(kNow, 10).value();
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == a);
  CHECK(due[0].job == "a");
  CHECK(due[0].attempts == 1);
  CHECK(due[0].last_error == "connection refused");
  CHECK(other->outbox_due(kNow, 10).value().empty());  // taken: not handed out again
  CHECK(host->outbox_due(kNow, 10).value().empty());

  // A failed attempt frees it for its next try, which any host may take.
  REQUIRE(host->outbox_retry_at(a, 2, kNow + 1000, "421 try later"));
  auto again = other->outbox_due(kNow + 1000, 10).value();
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == a);
  CHECK(again[0].attempts == 2);
  CHECK(again[0].last_error == "421 try later");
  REQUIRE(other->outbox_remove(a));

  auto later = host->outbox_due(kNow + 60'000, 10).value();
  REQUIRE(later.size() == 1);
  CHECK(later[0].id == b);
  CHECK(backend.scalar("SELECT count(*) FROM outbox") == 1);
  if constexpr (std::is_same_v<Backend, test::SqliteBackend>) {
    // A host that died mid-send: its lock runs out and the mail is due again (SQLite counts on
    // the caller's clock; PostgreSQL on the server's, the same for every host).
    CHECK(other->outbox_due(kNow + 60'000 + kOutboxLockMs - 1, 10).value().empty());
    CHECK(other->outbox_due(kNow + 60'000 + kOutboxLockMs, 10).value().size() == 1);
  }
}
