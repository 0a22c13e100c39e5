// api::RunApprovals from C++, as the plugin vtable will call it: the two steps (check, then
// act), the run's clock, and the dry-run rule, against a real state store (each backend).
#include <catch2/catch.hpp>

#include "../support/fake_clock.hpp"
#include "../store/backends.hpp"
#include "../support/temp_dir.hpp"
#include "api/approvals.hpp"

using namespace cronhost;
using store::ApprovalStatus;

namespace {

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15, any fixed time

template <typename Backend = test::SqliteBackend>
struct Fixture {
  Backend backend;
  std::unique_ptr<store::Store> store = backend.open();
  test::FakeClock clock{kNow};
  api::Redactor redactor;
  config::JobSpec job{.name = "version-check",
                      .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};

  api::ApprovalAskArgs ask(std::string key) const {
    return {.kind = "update", .key = std::move(key), .title = "Update to 1.0 with ghp_secret_token",
            .payload = {{"token", "ghp_secret_token"}}};
  }
};

}  // namespace

STORE_CONTRACT_TEST("RunApprovals: request stamps the run's clock and redacts what it stores", "[api][approvals]") {
  Fixture<Backend> f;
  f.redactor.add("ghp_secret_token");
  api::EffectLog live;
  api::RunApprovals approvals(f.job, f.store.get(), live, f.redactor, f.clock);
  auto ask = approvals.check_request(f.ask("1.0"));
  REQUIRE(ask);
  auto answer = approvals.request(*ask);
  REQUIRE(answer);
  CHECK(answer->created);
  CHECK_FALSE(answer->dry_run);
  CHECK(answer->approval.requested_at == kNow);
  CHECK(answer->approval.title == "Update to 1.0 with ***");
  CHECK(answer->approval.payload_json == R"({"token":"***"})");

  f.clock.advance(60'000);
  auto again = approvals.request(*ask);
  REQUIRE(again);
  CHECK_FALSE(again->created);
  CHECK(again->approval.id == answer->approval.id);
  CHECK(again->approval.requested_at == kNow);

  // Marking a PENDING one is refused, naming its status; the message has no function prefix.
  auto marked = approvals.mark(answer->approval.id, ApprovalStatus::kExecuted, "");
  REQUIRE_FALSE(marked);
  CHECK(marked.message() == "approval " + std::to_string(answer->approval.id) +
                                " is PENDING; only an APPROVED approval can be marked EXECUTED");
}

TEST_CASE("RunApprovals: check_* name the field and what it must be", "[api][approvals]") {
  Fixture<> f;
  api::EffectLog live;
  api::RunApprovals approvals(f.job, f.store.get(), live, f.redactor, f.clock);
  auto empty_kind = f.ask("1.0");
  empty_kind.kind = "";
  CHECK(approvals.check_request(empty_kind).message() == "field 'kind' must be 1 to 256 bytes");
  auto big = f.ask("1.0");
  big.payload = {{"blob", std::string(70 << 10, 'x')}};
  CHECK(approvals.check_request(big).message() == "field 'payload' is larger than 64 KiB as JSON");

  CHECK(approvals.check_list({.job = "other"}).message() ==
        "field 'job': job version-check may not see the approvals of job 'other' (name it in allow.approvals)");
  CHECK(approvals.check_list({.status = "DONE"}).message() ==
        "field 'status' must be one of PENDING, APPROVED, EXECUTED, FAILED, SUPERSEDED (got 'DONE')");
  CHECK(approvals.check_list({.limit = 1001}).message() == "field 'limit' must be from 1 to 1000");
  auto own = approvals.check_list({});
  REQUIRE(own);
  REQUIRE(own->jobs);
  CHECK(*own->jobs == std::vector<std::string>{"version-check"});
}

STORE_CONTRACT_TEST("RunApprovals: a dry run captures request and mark and writes nothing", "[api][approvals]") {
  Fixture<Backend> f;
  api::EffectLog live;
  api::RunApprovals writer(f.job, f.store.get(), live, f.redactor, f.clock);
  auto approved = writer.request(*writer.check_request(f.ask("1.0")));
  REQUIRE(approved);
  REQUIRE(f.store->approval_decide(approved->approval.id, ApprovalStatus::kApproved, "ana", "", kNow));

  api::EffectLog dry(api::EffectMode::kDryRun);
  api::RunApprovals approvals(f.job, f.store.get(), dry, f.redactor, f.clock);
  auto fresh = approvals.request(*approvals.check_request(f.ask("2.0")));
  REQUIRE(fresh);
  CHECK(fresh->dry_run);
  CHECK(fresh->created);
  CHECK(fresh->approval.id == 0);
  CHECK(fresh->approval.requested_at == kNow);
  CHECK(approvals.mark(approved->approval.id, ApprovalStatus::kExecuted, "deployed"));
  REQUIRE(dry.captured().size() == 2);
  CHECK(dry.captured()[0].summary == "request update/2.0 \"Update to 1.0 with ghp_secret_token\" (new)");
  CHECK(dry.captured()[1].summary == "mark " + std::to_string(approved->approval.id) + " EXECUTED: deployed");

  auto all = writer.list(*writer.check_list({}));
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().status == ApprovalStatus::kApproved);
}

TEST_CASE("RunApprovals: without a state file every action says so", "[api][approvals]") {
  Fixture<> f;
  api::EffectLog live;
  api::RunApprovals approvals(f.job, nullptr, live, f.redactor, f.clock);
  CHECK_FALSE(approvals.has_store());
  CHECK(approvals.get(1).message() == "this run has no state file");
  CHECK(approvals.mark(1, ApprovalStatus::kFailed, "").message() == "this run has no state file");
}
