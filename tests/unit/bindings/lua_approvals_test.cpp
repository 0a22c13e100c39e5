// The approvals module as a script sees it, run through the real sandbox against a state file.
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "config/job_spec.hpp"
#include "run/lua_runner.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using store::ApprovalStatus;
using store::RunStatus;

namespace {

class Harness {
 public:
  // Runs `source` as the job "version-check"; `mode` live or dry run.
  run::RunResult run(const std::string& source, api::EffectMode mode = api::EffectMode::kLive) {
    return run_as("version-check", {}, source, mode);
  }
  // Runs `source` as the job `name` with allow.approvals `approvals`.
  run::RunResult run_as(const std::string& name, std::vector<std::string> approvals, const std::string& source,
                        api::EffectMode mode = api::EffectMode::kLive) {
    config::JobSpec job{.name = name,
                        .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
    job.allow.approvals = std::move(approvals);
    job.lua_script = dir_.write("scripts/job.lua", source);
    job.timeout = std::chrono::seconds(5);
    run::RunContext ctx(job, {}, store_.get(), nullptr, mode);
    ctx.redactor.add("ghp_secret_token");
    auto result = run::run_lua(ctx);
    captured_ = ctx.effects.captured();
    return result;
  }
  store::Store& store() { return *store_; }
  const std::vector<api::Effect>& captured() const { return captured_; }
  int64_t rows() {
    store_->flush();
    SQLite::Database db((dir_.path() / "state.db").string());
    return db.execAndGet("SELECT count(*) FROM approvals").getInt64() +
           db.execAndGet("SELECT count(*) FROM events").getInt64();
  }

 private:
  test::TempDir dir_;
  std::unique_ptr<store::Store> store_ = store::Store::open(dir_.path() / "state.db").value();
  std::vector<api::Effect> captured_;
};

void check_ok(const run::RunResult& r) {
  CHECK(r.error == "");
  CHECK(r.status == RunStatus::kSucceeded);
}

}  // namespace

TEST_CASE("approvals.request asks once, get and list read back", "[lua][approvals]") {
  Harness h;
  check_ok(h.run(
      "local a = approvals.request{kind = 'update', key = '0.1.5', title = 'Update to 0.1.5',\n"
      "                            payload = {image = 'ghcr.io/acme/app', tags = {'0.1.5'}}, notify = {'ops'}}\n"
      "assert(a.created == true and a.id >= 1 and a.status == 'PENDING', a.status)\n"
      "assert(a.job == 'version-check' and a.kind == 'update' and a.key == '0.1.5' and a.title == 'Update to 0.1.5')\n"
      "assert(a.payload.image == 'ghcr.io/acme/app' and a.payload.tags[1] == '0.1.5')\n"
      "assert(a.requested_at:match('^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+00:00$'), a.requested_at)\n"
      "assert(a.decided_by == nil and a.decided_at == nil and a.notes == nil and a.dry_run == nil)\n"
      "local b = approvals.request{kind = 'update', key = '0.1.5', title = 'other'}\n"
      "assert(b.created == false and b.id == a.id and b.title == 'Update to 0.1.5')\n"
      "assert(approvals.get(a.id).key == '0.1.5' and approvals.get(999) == nil)\n"
      "approvals.request{kind = 'restore', key = 'db-1', title = 'Restore db-1'}\n"
      "assert(#approvals.list() == 2 and approvals.list()[1].kind == 'restore')\n"
      "assert(#approvals.list{kind = 'update', status = 'pending'} == 1)\n"
      "assert(#approvals.list{status = 'APPROVED'} == 0 and #approvals.list{limit = 1} == 1)\n"));
}

TEST_CASE("mark_executed and mark_failed need an APPROVED approval", "[lua][approvals]") {
  Harness h;
  const int64_t id =
      h.store().approval_request("version-check", "update", "0.1.5", "Update", "{}", 1000).value().approval.id;
  const int64_t other =
      h.store().approval_request("version-check", "update", "0.1.6", "Update", "{}", 1000).value().approval.id;
  check_ok(h.run("local ok, err = approvals.mark_executed(" + std::to_string(id) +
                 ", 'done')\n"
                 "assert(ok == nil and err == 'approvals.mark_executed: approval " +
                 std::to_string(id) +
                 " is PENDING; only an APPROVED approval can be marked EXECUTED', err)\n"
                 "local none, err2 = approvals.mark_failed(404)\n"
                 "assert(none == nil and err2 == 'approvals.mark_failed: no approval 404 of job version-check or of the jobs in its allow.approvals', err2)\n"));
  h.store().approval_decide(id, ApprovalStatus::kApproved, "alice", "", 2000).value();
  h.store().approval_decide(other, ApprovalStatus::kApproved, "alice", "", 2000).value();
  check_ok(
      h.run("local ids = {}\n"
            "for _, a in ipairs(approvals.list{status = 'APPROVED'}) do ids[#ids + 1] = a.id end\n"
            "assert(#ids == 2)\n"
            "assert(approvals.mark_executed(ids[1], 'deployed') == true)\n"
            "assert(approvals.mark_failed(ids[2], 'pull failed') == true)\n"
            "local a = approvals.get(ids[1])\n"
            "assert(a.status == 'EXECUTED' and a.notes == 'deployed' and a.executed_at and a.decided_by == 'alice')\n"
            "assert(approvals.get(ids[2]).status == 'FAILED')\n"));
}

TEST_CASE("misuse of approvals raises naming the field", "[lua][approvals]") {
  const std::pair<const char*, const char*> rows[] = {
      {"approvals.request{kind = 'update', key = '1'}", "approvals.request: field 'title' is required"},
      {"approvals.request{kind = 'update', key = '1', title = 't', payloda = {}}",
       "approvals.request: unknown field 'payloda', did you mean 'payload'?"},
      {"approvals.request{kind = '', key = '1', title = 't'}",
       "approvals.request: field 'kind' must be 1 to 256 bytes"},
      {"approvals.request{kind = 'u', key = 1, title = 't'}",
       "approvals.request: field 'key' must be a string (got number)"},
      {"approvals.request{kind = 'u', key = '1', title = 't', payload = {f = print}}",
       "approvals.request: field 'payload': "},
      {"approvals.request{kind = 'u', key = '1', title = 't', payload = {big = string.rep('x', 70000)}}",
       "approvals.request: field 'payload' is larger than 64 KiB as JSON"},
      {"approvals.request{kind = 'u', key = '1', title = 't', once = 'yes'}",
       "approvals.request: field 'once' must be true or false"},
      {"approvals.request{kind = 'u', key = '1', title = 't', group = ''}",
       "approvals.request: field 'group' must be 1 to 256 bytes"},
      {"approvals.list{status = 'DONE'}",
       "approvals.list: field 'status' must be one of PENDING, APPROVED, EXECUTED, FAILED, SUPERSEDED (got 'DONE')"},
      {"approvals.list{limit = 0}", "approvals.list: field 'limit' must be from 1 to 1000"},
      {"approvals.get('x')", "bad argument #1 to 'get' (number expected, got string)"},
      {"approvals.mark_executed(0)", "bad argument #1 to 'mark_executed' (an approval id is 1 or more)"},
  };
  for (auto [source, message] : rows) {
    INFO(source);
    Harness h;
    auto r = h.run(source);
    INFO(r.error);
    CHECK(r.status == RunStatus::kFailed);
    CHECK(r.error.find(message) != std::string::npos);
  }
}

TEST_CASE("secrets do not reach the state file", "[lua][approvals]") {
  Harness h;
  check_ok(
      h.run("local a = approvals.request{kind = 'u', key = 'k', title = 'with ghp_secret_token',\n"
            "                            payload = {auth = 'Bearer ghp_secret_token', list = {'ghp_secret_token'}}}\n"
            "assert(a.title == 'with ***' and a.payload.auth == 'Bearer ***' and a.payload.list[1] == '***')\n"));
  auto stored = h.store().approval_open("version-check", "u", "k").value();
  REQUIRE(stored);
  CHECK(stored->payload_json.find("ghp_secret_token") == std::string::npos);
}

TEST_CASE("a dry run captures request and mark, reads for real, and writes nothing", "[lua][approvals]") {
  Harness h;
  const int64_t approved =
      h.store().approval_request("version-check", "update", "0.1.4", "Update to 0.1.4", "{}", 1000).value().approval.id;
  h.store().approval_decide(approved, ApprovalStatus::kApproved, "alice", "", 2000).value();
  const int64_t before = h.rows();

  check_ok(h.run(
      "local new = approvals.request{kind = 'update', key = '0.1.5', title = 'Update to 0.1.5', payload = {n = 1}}\n"
      "assert(new.id == 0 and new.dry_run == true and new.created == true and new.status == 'PENDING')\n"
      "assert(new.payload.n == 1 and new.job == 'version-check')\n"
      "local old = approvals.request{kind = 'update', key = '0.1.4', title = 'again'}\n"
      "assert(old.id == " +
          std::to_string(approved) +
          " and old.created == false and old.status == 'APPROVED')\n"
          "assert(#approvals.list{status = 'APPROVED'} == 1)\n"
          "assert(approvals.mark_executed(old.id, 'deployed') == true)\n"
          "local none, err = approvals.mark_failed(404)\n"
          "assert(none == nil and err == 'approvals.mark_failed: no approval 404 of job version-check or of the jobs in its allow.approvals', err)\n",
      api::EffectMode::kDryRun));
  CHECK(h.rows() == before);
  CHECK(h.store().approval(approved).value()->status == ApprovalStatus::kApproved);
  REQUIRE(h.captured().size() == 3);
  CHECK(h.captured()[0].kind == "approvals");
  CHECK(h.captured()[0].summary == "request update/0.1.5 \"Update to 0.1.5\" (new)");
  CHECK(h.captured()[1].summary ==
        "request update/0.1.4 \"again\" (exists: " + std::to_string(approved) + " APPROVED)");
  CHECK(h.captured()[2].summary == "mark " + std::to_string(approved) + " EXECUTED: deployed");
}

TEST_CASE("approvals.request with group supersedes on approval, once answers with the execution", "[lua][approvals]") {
  Harness h;
  check_ok(h.run(
      "for _, v in ipairs{'0.1.6', '0.1.8'} do\n"
      "  assert(approvals.request{kind = 'update', key = v, title = 'Update to ' .. v, group = 'acme/app', once = true}.created)\n"
      "end\n"));
  auto both = h.store().approvals({.kind = "update"}).value();
  REQUIRE(both.size() == 2);
  h.store().approval_decide(both[1].id, ApprovalStatus::kApproved, "alice", "", 2000).value();  // 0.1.6
  h.store().approval_decide(both[0].id, ApprovalStatus::kApproved, "alice", "", 3000).value();  // 0.1.8
  check_ok(h.run(
      "local old = approvals.list{status = 'SUPERSEDED'}\n"
      "assert(#old == 1 and old[1].key == '0.1.6' and old[1].group == 'acme/app', #old)\n"
      "local new = approvals.list{status = 'APPROVED'}[1]\n"
      "assert(old[1].superseded_by == new.id and old[1].closed_at and old[1].executed_at == nil)\n"
      "assert(approvals.mark_failed(new.id, 'webhook 500') == true)\n"
      "local failed = approvals.get(new.id)\n"
      "assert(failed.status == 'FAILED' and failed.executed_at == nil and failed.closed_at)\n"
      "local again = approvals.request{kind = 'update', key = '0.1.8', title = 't', group = 'acme/app', once = true}\n"
      "assert(again.created and again.status == 'PENDING')  -- a failure is no answer: asked again\n"));
  const int64_t again = h.store().approvals({.kind = "update", .key = "0.1.8", .status = ApprovalStatus::kPending})
                            .value().front().id;
  h.store().approval_decide(again, ApprovalStatus::kApproved, "alice", "", 4000).value();
  h.store().approval_mark(again, ApprovalStatus::kExecuted, "", 5000).value();
  check_ok(h.run(
      "local a = approvals.request{kind = 'update', key = '0.1.8', title = 't', group = 'acme/app', once = true}\n"
      "assert(a.created == false and a.status == 'EXECUTED', a.status)\n"));
  check_ok(h.run(  // a dry run answers the same, from the real record
      "local a = approvals.request{kind = 'update', key = '0.1.8', title = 't', once = true}\n"
      "assert(a.created == false and a.status == 'EXECUTED' and a.dry_run == nil)\n",
      api::EffectMode::kDryRun));
}

TEST_CASE("mark_superseded closes an APPROVED approval another made moot", "[lua][approvals]") {
  Harness h;
  const int64_t id =
      h.store().approval_request("version-check", "update", "0.1.5", "Update", "{}", 1000).value().approval.id;
  h.store().approval_decide(id, ApprovalStatus::kApproved, "alice", "", 2000).value();
  check_ok(h.run("assert(approvals.mark_superseded(" + std::to_string(id) + ", 'superseded by 0.1.8') == true)\n"
                 "local a = approvals.get(" + std::to_string(id) + ")\n"
                 "assert(a.status == 'SUPERSEDED' and a.notes == 'superseded by 0.1.8' and a.executed_at == nil)\n"
                 "assert(#approvals.list{status = 'superseded'} == 1)\n"));
}

TEST_CASE("a job reaches only its own approvals and those of the jobs it names", "[lua][approvals][allow]") {
  Harness h;
  const int64_t mine =
      h.store().approval_request("version-check", "update", "0.1.5", "Update", "{\"secret\": 1}", 1000).value().approval.id;
  h.store().approval_decide(mine, ApprovalStatus::kApproved, "alice", "", 2000).value();
  const std::string id = std::to_string(mine);
  // A job that names no one: every way to the other job's approval finds nothing.
  check_ok(h.run_as("intruder", {},
                    "assert(#approvals.list() == 0)\n"
                    "assert(#approvals.list{status = 'APPROVED', kind = 'update'} == 0)\n"
                    "assert(approvals.get(" + id + ") == nil)\n"
                    "for _, mark in ipairs{'mark_failed', 'mark_executed', 'mark_superseded'} do\n"
                    "  local ok, err = approvals[mark](" + id + ", 'x')\n"
                    "  assert(ok == nil and err == 'approvals.' .. mark .. ': no approval " + id +
                    " of job intruder or of the jobs in its allow.approvals', err)\n"
                    "end\n"
                    "local ok, err = pcall(approvals.list, {job = 'version-check'})\n"
                    "assert(not ok and err:find(\"job intruder may not see the approvals of job 'version-check' \", 1, true), err)\n"
                    "-- its own request with the same kind and key is a new approval, not the other job's\n"
                    "local a = approvals.request{kind = 'update', key = '0.1.5', title = 'mine'}\n"
                    "assert(a.created and a.id ~= " + id + " and a.job == 'intruder' and a.status == 'PENDING')\n"
                    "assert(#approvals.list() == 1 and approvals.list()[1].id == a.id)\n"));
  check_ok(h.run_as("intruder", {},  // nor in a dry run
                    "assert(approvals.get(" + id + ") == nil)\n"
                    "assert(approvals.mark_failed(" + id + ") == nil)\n",
                    api::EffectMode::kDryRun));
  CHECK(h.store().approval(mine).value()->status == ApprovalStatus::kApproved);
  // Naming version-check in allow.approvals reaches its approvals, and list{job = ...} works.
  check_ok(h.run_as("execute-updates", {"version-check"},
                    "local all = approvals.list{status = 'APPROVED'}\n"
                    "assert(#all == 1 and all[1].id == " + id + " and all[1].payload.secret == 1)\n"
                    "assert(#approvals.list{job = 'version-check'} == 1 and #approvals.list() == 1)\n"
                    "assert(approvals.get(" + id + ").job == 'version-check')\n"
                    "assert(approvals.mark_executed(" + id + ", 'deployed') == true)\n"));
  CHECK(h.store().approval(mine).value()->status == ApprovalStatus::kExecuted);
  // '*' reaches every job's.
  check_ok(h.run_as("auditor", {"*"}, "assert(#approvals.list() == 2)\n"));
}

TEST_CASE("approving one job's approval supersedes only that job's older ones", "[lua][approvals][allow]") {
  Harness h;
  const std::string ask = "approvals.request{kind = 'update', key = KEY, title = 't', group = 'acme/app'}\n";
  auto ask_for = [&](const std::string& key) { return "local KEY = '" + key + "'\n" + ask; };
  check_ok(h.run_as("staging-check", {}, ask_for("0.1.6")));
  check_ok(h.run_as("version-check", {}, ask_for("0.1.8")));
  const auto staging = h.store().approvals({.job = "staging-check"}).value();
  const auto production = h.store().approvals({.job = "version-check"}).value();
  REQUIRE(staging.size() == 1);
  REQUIRE(production.size() == 1);
  h.store().approval_decide(production[0].id, ApprovalStatus::kApproved, "alice", "", 2000).value();
  CHECK(h.store().approval(staging[0].id).value()->status == ApprovalStatus::kPending);
}
