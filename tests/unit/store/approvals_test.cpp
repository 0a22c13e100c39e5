// Approvals in the state store, on every backend (store/backends.hpp): one open approval per
// (kind, key), decisions only from the right status, an event committed with each decision,
// and the command line's connection writing while a daemon holds the store.
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "../support/temp_dir.hpp"
#include "backends.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using namespace cronhost::store;

namespace {

constexpr int64_t kNow = 1'777'777'777'000;

template <typename Backend>
struct Fixture {
  Backend backend;
  std::unique_ptr<Store> store = backend.open();

  RequestedApproval request(const std::string& key, const std::string& payload = R"({"image":"acme/app"})") {
    return store->approval_request("version-check", "update", key, "Update to " + key, payload, kNow).value();
  }
  int64_t count(const std::string& sql) const { return backend.scalar(sql); }
  std::unique_ptr<Store> client() { return backend.second_connection(); }
};

}  // namespace

STORE_CONTRACT_TEST("a request is recorded once while it is open", "[store][approvals]") {
  Fixture<Backend> f;
  auto first = f.request("0.1.5");
  CHECK(first.created);
  CHECK(first.approval.id > 0);
  CHECK(first.approval.status == ApprovalStatus::kPending);
  CHECK(first.approval.job == "version-check");
  CHECK(first.approval.title == "Update to 0.1.5");
  CHECK(first.approval.payload_json == R"({"image":"acme/app"})");
  CHECK(first.approval.requested_at == kNow);

  auto again = f.store->approval_request("version-check", "update", "0.1.5", "Another title", "{}", kNow + 1000).value();
  CHECK_FALSE(again.created);
  CHECK(again.approval.id == first.approval.id);
  CHECK(again.approval.title == "Update to 0.1.5");  // returned unchanged
  CHECK(again.approval.requested_at == kNow);

  const int64_t next = f.request("0.1.6").approval.id;  // another key
  CHECK(next == first.approval.id + 1);                 // asking again used no id
  CHECK(f.store->approval_request("j", "rollback", "0.1.5", "t", "{}", kNow).value().created);  // another kind

  f.store->approval_decide(first.approval.id, ApprovalStatus::kApproved, "alice", "", kNow + 5).value();
  auto while_approved = f.request("0.1.5");
  CHECK_FALSE(while_approved.created);
  CHECK(while_approved.approval.status == ApprovalStatus::kApproved);

  // Once executed it is history: the same key may be asked for again.
  f.store->approval_mark(first.approval.id, ApprovalStatus::kExecuted, "", kNow + 9).value();
  auto after = f.request("0.1.5");
  CHECK(after.created);
  CHECK(after.approval.id != first.approval.id);
  CHECK(f.count("SELECT count(*) FROM approvals") == 4);
}

STORE_CONTRACT_TEST("concurrent requests for the same key make one approval", "[store][approvals]") {
  Fixture<Backend> f;
  auto client = f.client();
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      Store& s = i % 2 ? *f.store : *client;  // both connections: the index decides, not the thread
      if (s.approval_request("j", "update", "0.2.0", "t", "{}", kNow).value().created) ++created;
    });
  for (auto& t : threads) t.join();
  CHECK(created == 1);
  CHECK(f.count("SELECT count(*) FROM approvals") == 1);
}

STORE_CONTRACT_TEST("approve, then mark executed or failed, each only from the right status", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t id = f.request("0.1.5").approval.id;

  auto early = f.store->approval_mark(id, ApprovalStatus::kExecuted, "too soon", kNow);
  REQUIRE_FALSE(early);
  CHECK(early.message() ==
        "approval " + std::to_string(id) + " is PENDING; only an APPROVED approval can be marked EXECUTED");

  auto approved = f.store->approval_decide(id, ApprovalStatus::kApproved, "alice", "go ahead", kNow + 10).value();
  CHECK(approved.status == ApprovalStatus::kApproved);
  CHECK(approved.decided_by == "alice");
  CHECK(approved.decided_at == kNow + 10);
  CHECK(approved.notes == "go ahead");

  auto twice = f.store->approval_decide(id, ApprovalStatus::kApproved, "bob", "", kNow + 11);
  REQUIRE_FALSE(twice);
  CHECK(twice.message() == "approval " + std::to_string(id) + " is APPROVED; only a PENDING approval can be approved");
  CHECK(f.store->approval(id).value()->decided_by == "alice");  // unchanged

  auto done = f.store->approval_mark(id, ApprovalStatus::kExecuted, "deployed in 40 s", kNow + 20).value();
  CHECK(done.status == ApprovalStatus::kExecuted);
  CHECK(done.executed_at == kNow + 20);
  CHECK(done.notes == "go ahead\ndeployed in 40 s");

  auto again = f.store->approval_decide(id, ApprovalStatus::kApproved, "bob", "", kNow + 30);
  REQUIRE_FALSE(again);
  CHECK(again.message() == "approval " + std::to_string(id) + " is EXECUTED; only a PENDING approval can be approved");
  CHECK_FALSE(f.store->approval_mark(id, ApprovalStatus::kFailed, "", kNow + 31));

  const int64_t other = f.request("0.1.6").approval.id;
  f.store->approval_decide(other, ApprovalStatus::kApproved, "alice", "", kNow).value();
  auto failed = f.store->approval_mark(other, ApprovalStatus::kFailed, "image pull failed", kNow + 40).value();
  CHECK(failed.status == ApprovalStatus::kFailed);
  CHECK(failed.notes == "image pull failed");

  CHECK(f.store->approval_decide(999, ApprovalStatus::kApproved, "alice", "", kNow).message() == "no approval 999");
  CHECK(f.store->approval_mark(999, ApprovalStatus::kFailed, "", kNow).message() == "no approval 999");
  CHECK_FALSE(f.store->approval_decide(other, ApprovalStatus::kExecuted, "alice", "", kNow));  // not a decision
  CHECK_FALSE(f.store->approval_decide(f.request("0.1.7").approval.id, ApprovalStatus::kApproved, "", "", kNow));
}

STORE_CONTRACT_TEST("cancel deletes the approval so the next request asks again", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t pending = f.request("0.1.5").approval.id;
  auto cancelled = f.store->approval_cancel(pending, "alice", "", kNow).value();
  CHECK(cancelled.id == pending);
  CHECK(cancelled.status == ApprovalStatus::kPending);
  CHECK_FALSE(f.store->approval(pending).value());
  CHECK(f.store->approval_cancel(pending, "alice", "", kNow).message() == "no approval " + std::to_string(pending));

  auto renewed = f.request("0.1.5");
  CHECK(renewed.created);
  CHECK(renewed.approval.id != pending);

  // APPROVED may be cancelled too; EXECUTED and FAILED are history.
  f.store->approval_decide(renewed.approval.id, ApprovalStatus::kApproved, "alice", "", kNow).value();
  CHECK(f.store->approval_cancel(renewed.approval.id, "bob", "wrong image", kNow).value().status ==
        ApprovalStatus::kApproved);
  const int64_t executed = f.request("0.1.5").approval.id;
  f.store->approval_decide(executed, ApprovalStatus::kApproved, "alice", "", kNow).value();
  f.store->approval_mark(executed, ApprovalStatus::kExecuted, "", kNow).value();
  CHECK(f.store->approval_cancel(executed, "bob", "", kNow).message() ==
        "approval " + std::to_string(executed) + " is EXECUTED; only a PENDING or APPROVED approval can be cancelled");
  CHECK(f.store->approval(executed).value());
}

STORE_CONTRACT_TEST("each decision commits its event, failed ones leave none", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t a = f.request("0.1.5").approval.id;
  const int64_t b = f.request("0.1.6").approval.id;
  f.store->approval_decide(a, ApprovalStatus::kApproved, "alice", "after 18:00", kNow + 1).value();
  CHECK_FALSE(f.store->approval_decide(a, ApprovalStatus::kApproved, "alice", "", kNow + 2));
  CHECK_FALSE(f.store->approval_cancel(12345, "bob", "", kNow + 2));
  f.store->approval_cancel(b, "bob", "not this one", kNow + 3).value();

  auto events = f.store->events_after(0, 10).value();
  REQUIRE(events.size() == 2);
  CHECK(events[0].name == "approval.approved");
  CHECK(events[0].created_at == kNow + 1);
  CHECK_FALSE(events[0].delivered_at);
  const auto approved = nlohmann::json::parse(events[0].payload_json);
  CHECK(approved["id"] == a);
  CHECK(approved["kind"] == "update");
  CHECK(approved["key"] == "0.1.5");
  CHECK(approved["status"] == "APPROVED");
  CHECK(approved["decided_by"] == "alice");
  CHECK(approved["note"] == "after 18:00");
  CHECK(approved["payload"]["image"] == "acme/app");

  CHECK(events[1].name == "approval.cancelled");
  const auto cancelled = nlohmann::json::parse(events[1].payload_json);
  CHECK(cancelled["id"] == b);
  CHECK(cancelled["key"] == "0.1.6");
  CHECK(cancelled["status"] == "PENDING");  // what it was when cancelled
  CHECK(cancelled["cancelled_by"] == "bob");
  CHECK(cancelled["decided_by"].is_null());
  CHECK(cancelled["note"] == "not this one");

  // The daemon's cursor: undelivered events after the last id it saw.
  CHECK(f.store->events_after(events[0].id, 10).value().size() == 1);
  CHECK(f.store->events_after(0, 1).value().size() == 1);
  CHECK(f.store->event_delivered(events[0].id, kNow + 100).value());
  auto left = f.store->events_after(0, 10).value();
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == events[1].id);
  CHECK_FALSE(f.store->event_delivered(999, kNow));
  // Taken once: a second host (here a second connection) marking it finds it delivered, and
  // the first delivery's time stays.
  auto other = f.backend.second_connection();
  CHECK_FALSE(other->event_delivered(events[0].id, kNow + 200).value());
  CHECK(f.backend.scalar("SELECT delivered_at FROM events WHERE id = " + std::to_string(events[0].id)) == kNow + 100);
}

STORE_CONTRACT_TEST("an event run's claim delivers its event, and a job runs once per event", "[store][approvals]") {
  Fixture<Backend> f;
  f.store->approval_decide(f.request("0.1.5").approval.id, ApprovalStatus::kApproved, "alice", "", kNow + 1).value();
  const auto events = f.store->events_after(0, 10).value();
  REQUIRE(events.size() == 1);
  const int64_t event = events[0].id;
  auto event_run = [&](const std::string& job) {
    return NewRun{.job = job, .trigger = Trigger::kEvent, .scheduled_for = kNow + 2, .status = RunStatus::kQueued,
                  .started_at = kNow + 2, .event_json = R"({"name":"approval.approved"})", .event_id = event};
  };
  // Fired twice (two hosts, or again after a claim that failed): one run per job.
  const auto first = f.store->claim_batch({event_run("deploy"), event_run("notify")}).value();
  REQUIRE(first.size() == 2);
  CHECK(first[0].claimed());
  CHECK(first[1].claimed());
  CHECK(f.store->events_after(0, 10).value().empty());  // delivered in the claims' transaction
  CHECK(f.backend.scalar("SELECT delivered_at FROM events WHERE id = " + std::to_string(event)) == kNow + 2);
  auto other = f.backend.second_connection();
  CHECK_FALSE(other->claim(event_run("deploy")).value());
  CHECK_FALSE(f.store->claim(event_run("notify")).value());
  CHECK(f.backend.scalar("SELECT count(*) FROM runs WHERE event_id = " + std::to_string(event)) == 2);
  // Its retries are not event runs: the second attempt goes in.
  NewRun retry = event_run("deploy");
  retry.trigger = Trigger::kRetry;
  retry.attempt = 2;
  retry.event_id.reset();
  retry.retry_of = first[0].id;
  CHECK(f.store->claim(retry).value());
}

STORE_CONTRACT_TEST("list filters by kind, status and job, newest first", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t a = f.request("0.1.5").approval.id;
  const int64_t b = f.request("0.1.6").approval.id;
  f.store->approval_request("backup-check", "restore", "2026-05-01", "Restore", "{}", kNow).value();
  f.store->approval_decide(a, ApprovalStatus::kApproved, "alice", "", kNow).value();

  auto all = f.store->approvals({}).value();
  REQUIRE(all.size() == 3);
  CHECK(all[0].kind == "restore");
  CHECK(all[2].id == a);
  auto updates = f.store->approvals({.kind = "update"}).value();
  REQUIRE(updates.size() == 2);
  CHECK(updates[0].id == b);
  auto approved = f.store->approvals({.status = ApprovalStatus::kApproved}).value();
  REQUIRE(approved.size() == 1);
  CHECK(approved[0].id == a);
  CHECK(f.store->approvals({.job = "backup-check"}).value().size() == 1);
  CHECK(f.store->approvals({.kind = "update", .key = "0.1.6"}).value().size() == 1);
  CHECK(f.store->approvals({.limit = 1}).value().size() == 1);
  CHECK(f.store->approval_open("version-check", "update", "0.1.5").value()->id == a);
  CHECK_FALSE(f.store->approval_open("backup-check", "update", "0.1.5").value());  // another job's
  CHECK_FALSE(f.store->approval_open("version-check", "update", "9.9.9").value());
  const auto mine = f.store->approvals({.jobs = std::vector<std::string>{"backup-check", "nobody"}}).value();
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].kind == "restore");
  CHECK(f.store->approvals({.jobs = std::vector<std::string>{}}).value().empty());
}

STORE_CONTRACT_TEST("the same kind and key asked by two jobs are two approvals", "[store][approvals]") {
  Fixture<Backend> f;
  const auto first = f.store->approval_request("version-check", "update", "0.1.5", "t", "{}", kNow).value();
  const auto other = f.store->approval_request("staging-check", "update", "0.1.5", "t", "{}", kNow).value();
  const auto again = f.store->approval_request("version-check", "update", "0.1.5", "t", "{}", kNow).value();
  CHECK(first.created);
  CHECK(other.created);
  CHECK(other.approval.id != first.approval.id);
  CHECK_FALSE(again.created);
  CHECK(again.approval.id == first.approval.id);
  // Approvals no job asked for (a NULL job) are deduplicated among themselves too.
  const auto unowned = f.store->approval_request("", "update", "0.1.5", "t", "{}", kNow).value();
  CHECK(unowned.created);
  CHECK_FALSE(f.store->approval_request("", "update", "0.1.5", "t", "{}", kNow).value().created);
}

TEST_CASE("approval_to_json shows times as RFC 3339 and absent values as null", "[store][approvals]") {
  Approval a{.id = 3,
             .job = "j",
             .kind = "update",
             .key = "0.1.5",
             .title = "t",
             .payload_json = R"({"n":1})",
             .status = ApprovalStatus::kApproved,
             .requested_at = 1'767'225'600'500,
             .decided_by = "alice",
             .decided_at = 1'767'225'660'000};
  const auto j = approval_to_json(a);
  CHECK(j["requested_at"] == "2026-01-01T00:00:00+00:00");
  CHECK(j["decided_at"] == "2026-01-01T00:01:00+00:00");
  CHECK(j["executed_at"].is_null());
  CHECK(j["notes"].is_null());
  CHECK(j["payload"]["n"] == 1);
  CHECK(j["status"] == "APPROVED");
  CHECK(parse_approval_status("approved") == ApprovalStatus::kApproved);
  CHECK_FALSE(parse_approval_status("DONE"));
}

STORE_CONTRACT_TEST("the command line writes while a daemon holds the state", "[store][approvals]") {
  Fixture<Backend> f;  // f.store is the daemon: it holds the lock
  const int64_t id = f.request("0.1.5").approval.id;

  auto client = f.client();
  // The daemon keeps writing (queued run rows) while the client decides.
  NewRun run{.job = "version-check", .scheduled_for = kNow, .started_at = kNow};
  for (int i = 0; i < 50; ++i) {
    run.scheduled_for = kNow + i;
    f.store->claim(run).value();
  }
  auto approved = client->approval_decide(id, ApprovalStatus::kApproved, "alice", "", kNow);
  REQUIRE(approved);
  CHECK(f.store->approval(id).value()->status == ApprovalStatus::kApproved);  // the daemon sees it
  CHECK(f.store->events_after(0, 10).value().size() == 1);
  client->approval_cancel(id, "alice", "", kNow).value();
  CHECK_FALSE(f.store->approval(id).value());
  CHECK(f.count("SELECT count(*) FROM runs") == 50);
}

TEST_CASE("the command line refuses a missing or old state file, and a second daemon the held one", "[store][approvals]") {
  test::SqliteBackend backend;
  auto daemon = backend.open();
  REQUIRE_FALSE(Store::open(backend.path));
  test::TempDir other;
  CHECK(Store::open_client(other.path() / "missing.db").message().find("no state file at") == 0);
  {
    SQLite::Database old((other.path() / "old.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    old.exec("PRAGMA user_version = 1");
  }
  CHECK(Store::open_client(other.path() / "old.db").message().find("is at schema version 1, this cronhost needs") !=
        std::string::npos);
}

namespace {

// An update of acme/app asked for as version-check asks: grouped by the image.
RequestedApproval ask_update(Store& store, const std::string& version, bool once = false) {
  return store
      .approval_request({.job = "version-check", .kind = "update", .key = version, .title = "Update to " + version,
                         .payload_json = R"({"image":"acme/app"})", .group = "acme/app", .once = once},
                        kNow)
      .value();
}

}  // namespace

STORE_CONTRACT_TEST("approving a newer approval supersedes the older open ones of its group", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t v16 = ask_update(*f.store, "0.1.6").approval.id;
  const int64_t v17 = ask_update(*f.store, "0.1.7").approval.id;
  const int64_t v18 = ask_update(*f.store, "0.1.8").approval.id;
  const int64_t other_image = f.store->approval_request({.job = "j", .kind = "update", .key = "2.0.0", .title = "t",
                                                         .group = "acme/other"}, kNow).value().approval.id;
  const int64_t ungrouped = f.request("0.1.5").approval.id;  // before the group's, but in no group
  CHECK(ask_update(*f.store, "0.1.6").approval.group == "acme/app");

  f.store->approval_decide(v16, ApprovalStatus::kApproved, "alice", "", kNow + 1).value();
  f.store->approval_decide(v18, ApprovalStatus::kApproved, "bob", "", kNow + 2).value();

  const auto status = [&](int64_t id) { return f.store->approval(id).value()->status; };
  CHECK(status(v18) == ApprovalStatus::kApproved);
  CHECK(status(v16) == ApprovalStatus::kSuperseded);  // approved, not yet executed: the newer wins
  CHECK(status(v17) == ApprovalStatus::kSuperseded);  // never decided
  CHECK(status(other_image) == ApprovalStatus::kPending);
  CHECK(status(ungrouped) == ApprovalStatus::kPending);
  auto old = f.store->approval(v16).value().value();
  CHECK(old.superseded_by == v18);
  CHECK(old.closed_at == kNow + 2);
  CHECK_FALSE(old.executed_at);
  CHECK(old.decided_by == "alice");  // the decision stays on record
  CHECK(f.store->approvals({.kind = "update", .status = ApprovalStatus::kApproved}).value().size() == 1);

  // Approving the older one after the newer is refused: it is no longer open.
  auto downgrade = f.store->approval_decide(v17, ApprovalStatus::kApproved, "carol", "", kNow + 3);
  REQUIRE_FALSE(downgrade);
  CHECK(downgrade.message() ==
        "approval " + std::to_string(v17) + " is SUPERSEDED; only a PENDING approval can be approved");
  // Nor may a superseded approval be marked; a new request for its key asks anew.
  CHECK_FALSE(f.store->approval_mark(v16, ApprovalStatus::kExecuted, "", kNow + 4));
  CHECK(ask_update(*f.store, "0.1.6").created);

  // One approval.superseded event per closed approval, after the approval.approved.
  auto events = f.store->events_after(0, 20).value();
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"approval.approved", "approval.approved", "approval.superseded",
                                          "approval.superseded"});
  const auto superseded = nlohmann::json::parse(events[2].payload_json);
  CHECK(superseded["id"] == v16);
  CHECK(superseded["status"] == "SUPERSEDED");
  CHECK(superseded["superseded_by"] == v18);
  CHECK(superseded["group"] == "acme/app");
}

STORE_CONTRACT_TEST("approving an older version leaves a newer pending one open", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t v16 = ask_update(*f.store, "0.1.6").approval.id;
  const int64_t v18 = ask_update(*f.store, "0.1.8").approval.id;
  f.store->approval_decide(v16, ApprovalStatus::kApproved, "alice", "", kNow + 1).value();
  CHECK(f.store->approval(v18).value()->status == ApprovalStatus::kPending);  // still a question
  CHECK(f.store->approval(v16).value()->status == ApprovalStatus::kApproved);
}

STORE_CONTRACT_TEST("a request made once is answered by the approval executed for its key", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t id = ask_update(*f.store, "0.1.5", true).approval.id;
  f.store->approval_decide(id, ApprovalStatus::kApproved, "alice", "", kNow).value();
  f.store->approval_mark(id, ApprovalStatus::kExecuted, "deployed", kNow + 1).value();

  auto answer = ask_update(*f.store, "0.1.5", true);
  CHECK_FALSE(answer.created);
  CHECK(answer.approval.id == id);
  CHECK(answer.approval.status == ApprovalStatus::kExecuted);
  CHECK(f.count("SELECT count(*) FROM approvals") == 1);

  CHECK(ask_update(*f.store, "0.1.5").created);  // without once: asked anew, as before
  CHECK(ask_update(*f.store, "0.1.6", true).created);  // another key
}

STORE_CONTRACT_TEST("concurrent once requests racing an execution never reopen the executed key", "[store][approvals]") {
  Fixture<Backend> f;
  auto client = f.client();
  const int64_t id = ask_update(*f.store, "0.2.0", true).approval.id;
  f.store->approval_decide(id, ApprovalStatus::kApproved, "alice", "", kNow).value();
  std::vector<std::thread> threads;
  threads.emplace_back([&] { client->approval_mark(id, ApprovalStatus::kExecuted, "", kNow).value(); });
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&, i] { ask_update(i % 2 ? *f.store : *client, "0.2.0", true); });
  for (auto& t : threads) t.join();
  // Each request saw the approval open or executed: none made a second one.
  CHECK(f.count("SELECT count(*) FROM approvals") == 1);
  CHECK(f.store->approval(id).value()->status == ApprovalStatus::kExecuted);
}

STORE_CONTRACT_TEST("a failed approval has a closing time but no execution time", "[store][approvals]") {
  Fixture<Backend> f;
  const int64_t id = f.request("0.1.5").approval.id;
  f.store->approval_decide(id, ApprovalStatus::kApproved, "alice", "", kNow).value();
  auto failed = f.store->approval_mark(id, ApprovalStatus::kFailed, "webhook 500", kNow + 7).value();
  CHECK(failed.status == ApprovalStatus::kFailed);
  CHECK_FALSE(failed.executed_at);
  CHECK(failed.closed_at == kNow + 7);
  const auto j = approval_to_json(failed);
  CHECK(j["executed_at"].is_null());
  CHECK_FALSE(j["closed_at"].is_null());

  const int64_t done = f.request("0.1.6").approval.id;
  f.store->approval_decide(done, ApprovalStatus::kApproved, "alice", "", kNow).value();
  auto executed = f.store->approval_mark(done, ApprovalStatus::kExecuted, "", kNow + 9).value();
  CHECK(executed.executed_at == kNow + 9);
  CHECK(executed.closed_at == kNow + 9);
}

STORE_CONTRACT_TEST("an audited decision writes its audit row in the same transaction", "[store][approvals]") {
  Fixture<Backend> f;
  auto client = f.client();
  const int64_t a = f.request("0.1.5").approval.id;
  const int64_t b = f.request("0.1.6").approval.id;
  client->approval_decide(a, ApprovalStatus::kApproved, "alice", "go", kNow, "cli:ops").value();
  client->approval_cancel(b, "bob", "", kNow + 1, "cli:ops").value();
  CHECK_FALSE(client->approval_decide(a, ApprovalStatus::kApproved, "alice", "", kNow, "cli:ops"));  // no row
  f.store->approval_decide(f.request("0.1.7").approval.id, ApprovalStatus::kApproved, "alice", "", kNow).value();

  auto log = f.store->audit_log("", 10).value();
  REQUIRE(log.size() == 2);  // the refusal and the unaudited decision wrote none
  CHECK(log[1].actor == "cli:ops");
  CHECK(log[1].action == "approval.approve");
  CHECK(log[1].target == std::to_string(a));
  CHECK(nlohmann::json::parse(log[1].detail_json) == nlohmann::json{{"note", "go"}, {"by", "alice"}});
  CHECK(log[0].action == "approval.cancel");
  CHECK(log[0].target == std::to_string(b));
  CHECK(nlohmann::json::parse(log[0].detail_json)["by"] == "bob");
}
