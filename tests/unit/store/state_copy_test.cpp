// cronhost migrate-state's copy (store/state_copy.hpp) against a real PostgreSQL 15
// (support/db_server.hpp), each test on a database of its own: a state file written by the
// SQLite store arrives field for field, odd text and 0/1 booleans included, ids go on after
// the copy; a second copy, a non-empty target, a running host, an old file, a wrong password
// and a row PostgreSQL cannot take are refused, naming what, with nothing copied.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "../support/pg_test_database.hpp"
#include "../support/temp_dir.hpp"
#include "store/migrations.hpp"
#include "store/state_copy.hpp"
#include "store/state_store.hpp"

using namespace cronhost;
using namespace cronhost::store;

namespace {

constexpr int64_t kNow = 1'777'777'777'000;
// Everything COPY's text format escapes, SQL quotes, a line that is COPY's end marker, and
// text beyond ASCII.
const std::string kOddText = "quote ' and \" tab\there\nnew line\r\nback\\slash \\N \\t\n\\.\né ü 日本 🚀 end\\";

// The columns PostgreSQL keeps as boolean where the file has 0/1 (named here, not taken from
// the code under test).
bool is_boolean(const std::string& table, const std::string& column) {
  return (table == "runs" && column == "output_truncated") || (table == "job_state" && column == "enabled_override") ||
         (table == "notifications" && column == "suppressed");
}

// A state file with rows in every table, written by the SQLite store as a host writes them.
struct StateFile {
  test::TempDir dir;
  std::filesystem::path path = dir.path() / "state.db";
  int64_t cancelled_approval = 0;  // the newest approval id, deleted: ids must not reuse it
  int64_t weird_run = 0;           // the run with odd text, truncated output and items

  StateFile() {
    auto store = Store::open(path).value();
    // Runs: a success with odd output cut at the limit and kv writes, a failure waiting for its
    // retry, the retry, a skipped slot, a manual run still going, an event run.
    weird_run = claim(*store, NewRun{.job = "nightly", .scheduled_for = kNow, .started_at = kNow, .record_slot = true,
                                     .next_fire = kNow + 60'000});
    RunOutcome done{.status = RunStatus::kSucceeded, .finished_at = kNow + 1500, .duration_ms = 1500};
    done.result_json = R"({"note":"tab\there","path":"C:\\temp","emoji":"🚀"})";
    done.output = kOddText;
    done.output_truncated = true;
    done.items = RunItems{10, 9, 1};
    done.kv_writes = {{"last", R"({"v":"a\\b\n\"c\""})"}, {"odd key\twith tab", R"("日本")"}, {"gone", std::nullopt}};
    store->finish(weird_run, "nightly", done);

    const int64_t failed = claim(*store, NewRun{.job = "backup", .scheduled_for = kNow, .started_at = kNow});
    RunOutcome failure{.status = RunStatus::kFailed, .finished_at = kNow + 10, .duration_ms = 10};
    failure.error = "disk full\n  at line 3\t(col 7)";
    failure.retry_at = kNow + 30'000;
    store->finish(failed, "backup", failure);
    claim(*store, NewRun{.job = "backup", .trigger = Trigger::kRetry, .scheduled_for = kNow, .attempt = 2,
                         .first_run_id = failed, .started_at = kNow + 30'000, .retry_of = failed});
    claim(*store, NewRun{.job = "backup", .scheduled_for = kNow + 60'000, .status = RunStatus::kSkipped,
                         .error = "the previous run still runs (concurrency: forbid)"});
    claim(*store, NewRun{.job = "deploy", .trigger = Trigger::kManual, .scheduled_for = kNow, .started_at = kNow,
                         .triggered_by = "ops-token", .params_json = R"({"keep_days":3})"});
    claim(*store, NewRun{.job = "on-approval", .trigger = Trigger::kEvent, .scheduled_for = kNow, .started_at = kNow,
                         .event_json = R"({"name":"approval.approved","payload":{"id":2}})"});
    store->mark_started(weird_run, kNow, 4);
    REQUIRE(store->kv_put("deploy", "version", R"("1.4.2")", kNow));

    // Job state: an override to 0 (false) and one to 1 (true), a schedule override.
    REQUIRE(store->set_enabled_override("backup", false));
    REQUIRE(store->set_enabled_override("deploy", true));
    REQUIRE(store->set_schedule_override("nightly", R"({"cron":"0 3 * * *","timezone":"Europe/London"})"));

    // Approvals in every state: two of a group (approving the newer supersedes the older), an
    // executed one, a failed one, a pending one, and a cancelled (deleted) newest one.
    const auto ask = [&](const std::string& key, const std::string& group) {
      return store->approval_request(ApprovalAsk{"deployer", "update", key, "Update to " + key + " — \"now\"",
                                                 R"({"image":"acme/app","tag":")" + key + R"("})", group, false},
                                     kNow)
          .value()
          .approval.id;
    };
    const int64_t older = ask("1.0", "app"), newer = ask("1.1", "app");
    REQUIRE(store->approval_decide(newer, ApprovalStatus::kApproved, "alice", "ok\tgo", kNow + 1, "api:alice"));
    REQUIRE(store->approval(older).value()->status == ApprovalStatus::kSuperseded);
    REQUIRE(store->approval_mark(newer, ApprovalStatus::kExecuted, "deployed\nfine", kNow + 2));
    const int64_t failing = ask("2.0", "");
    REQUIRE(store->approval_decide(failing, ApprovalStatus::kApproved, "bob", "", kNow + 3));
    REQUIRE(store->approval_mark(failing, ApprovalStatus::kFailed, "rollout failed", kNow + 4));
    ask("3.0", "");
    cancelled_approval = ask("4.0", "");
    REQUIRE(store->approval_cancel(cancelled_approval, "carol", "not now", kNow + 5, "cli:carol"));

    // Events (from the decisions), one delivered; an outbox mail; a registered job; audit rows.
    auto events = store->events_after(0, 10).value();
    REQUIRE(events.size() >= 2);
    REQUIRE(store->event_delivered(events[0].id, kNow + 6).value());
    OutboxMail mail{.job = "nightly", .run_id = weird_run, .message_json = R"({"to":["ops@acme.test"],"subject":"Ünïcode\ttab","text":"line 1\nline 2"})"};
    const int64_t mail_id = store->outbox_add(mail, kNow).value();
    REQUIRE(store->outbox_retry_at(mail_id, 2, kNow + 60'000, "421 try later\r\n"));
    REQUIRE(store->save_registered_job(RegisteredJob{"svc-report", R"({"schedule":{"every":"1h"},"run":{"http":"x"}})",
                                                     "svc-token", kNow, kNow + 7}));
    REQUIRE(store->audit(AuditEntry{0, kNow + 8, "api:alice", "job.trigger", "deploy", R"({"params":{"a":"\\"}})"}));
    // A notification decided (notify:), with quotes and a newline in its summary.
    REQUIRE(store->notification_add(NotificationRecord{.job = "nightly", .event = "failed", .at = kNow + 9,
                                                       .run_id = weird_run, .channels_json = R"(["mail","job:page"])",
                                                       .summary = "nightly failed: \"disk\"\nfull",
                                                       .dedup_key = "failed:run:1"})
                .value());
    // Webhooks: one still to deliver (it must survive the move) and one given up.
    OutboxWebhook hook{.job = "nightly", .run_id = weird_run, .event = "failed", .format = "json",
                       .body = R"({"text":"nightly failed: \"disk\"\nfull"})",
                       .target_json = R"({"url":"https://hooks.example/x","headers":{},"secret":"s3","secret_values":[]})",
                       .url = "https://hooks.example/x"};
    const int64_t waiting = store->webhook_add(hook, kNow + 10).value();
    REQUIRE(store->webhook_retry_at(waiting, 1, kNow + 70'000, "HTTP 503 (busy)", 503));
    hook.run_id.reset();
    hook.event = "missed";
    const int64_t given_up = store->webhook_add(hook, kNow + 11).value();
    REQUIRE(store->webhook_give_up(given_up, 5, "HTTP 410 (gone)", 410, kNow + 12));
    store->flush();
  }

  static int64_t claim(Store& store, const NewRun& run) { return store.claim(run).value().value(); }

  // Every row of `table` as PostgreSQL would print it (booleans t/f), sorted.
  std::vector<test::PgRow> rows(const std::string& table, const std::vector<std::string>& columns) const {
    SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
    std::string list;
    for (const auto& c : columns) list += (list.empty() ? "\"" : ", \"") + c + "\"";
    SQLite::Statement q(db, "SELECT " + list + " FROM " + table);
    std::vector<test::PgRow> out;
    while (q.executeStep()) {
      test::PgRow row;
      for (size_t i = 0; i < columns.size(); ++i) {
        const SQLite::Column v = q.getColumn(static_cast<int>(i));
        if (v.isNull()) row.push_back(std::nullopt);
        else if (is_boolean(table, columns[i])) row.push_back(v.getInt64() != 0 ? "t" : "f");
        else row.push_back(v.getString());
      }
      out.push_back(std::move(row));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> columns(const std::string& table) const {
    SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT name FROM pragma_table_info(?)");
    q.bind(1, table);
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }

  void exec(const std::string& sql) const {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec(sql);
  }
};

std::vector<test::PgRow> pg_rows(const test::PgTestConnection& conn, const std::string& table,
                                 const std::vector<std::string>& columns) {
  std::string list;
  for (const auto& c : columns) list += (list.empty() ? "\"" : ", \"") + c + "\"";
  auto out = conn.rows("SELECT " + list + " FROM " + table);
  std::sort(out.begin(), out.end());
  return out;
}

int64_t pg_count(const test::PgTestConnection& conn, const std::string& table) {
  return std::stoll(conn.value("SELECT count(*) FROM " + table));
}

}  // namespace

TEST_CASE("migrate-state copies every row of every table field for field, and ids go on after it", "[db][store][postgres]") {
  StateFile file;
  test::PgTestDatabase database("copy");
  auto report = copy_state(file.path, PgTarget{database.url(), database.password()});
  INFO((report ? std::string() : report.message()));
  REQUIRE(report);

  const auto conn = database.connect();
  const auto& tables = state_tables();
  REQUIRE(report->tables.size() == tables.size());
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string table(tables[i]);
    INFO("table " << table);
    const auto columns = file.columns(table);
    const auto expected = file.rows(table, columns);
    CHECK(!expected.empty());  // the fixture fills every table, so every table is really compared
    CHECK(report->tables[i].table == table);
    CHECK(report->tables[i].rows == static_cast<int64_t>(expected.size()));
    CHECK(pg_rows(conn, table, columns) == expected);
  }
  // The odd text and the booleans really are in there, as written.
  CHECK(conn.value("SELECT output FROM runs WHERE id = " + std::to_string(file.weird_run)) == kOddText);
  CHECK(conn.value("SELECT output_truncated FROM runs WHERE id = " + std::to_string(file.weird_run)) == "t");
  CHECK(conn.rows("SELECT job, enabled_override FROM job_state WHERE enabled_override IS NOT NULL ORDER BY job") ==
        std::vector<test::PgRow>{{"backup", "f"}, {"deploy", "t"}});
  CHECK(conn.value("SELECT count(*) FROM approvals WHERE status = 'SUPERSEDED' AND superseded_by IS NOT NULL") == "1");
  CHECK(conn.value("SELECT count(*) FROM runs WHERE host IS NOT NULL") == "0");  // PostgreSQL-only: not known

  // Ids go on after the copy: past the largest id, and for approvals past the cancelled one.
  const int64_t max_run = std::stoll(conn.value("SELECT max(id) FROM runs"));
  CHECK(conn.value("INSERT INTO runs (job, trigger, scheduled_for, status) VALUES ('later', 'manual', 1, 'queued') "
                   "RETURNING id") == std::to_string(max_run + 1));
  CHECK(std::stoll(conn.value("SELECT max(id) FROM approvals")) < file.cancelled_approval);
  CHECK(conn.value("INSERT INTO approvals (kind, key, title, requested_at) VALUES ('k', 'v', 't', 1) RETURNING id") ==
        std::to_string(file.cancelled_approval + 1));
  for (const std::string table : {"events", "outbox", "audit_log"}) {
    INFO("table " << table);
    const int64_t max_id = std::stoll(conn.value("SELECT max(id) FROM " + table));
    const std::string insert =
        table == "events"   ? "INSERT INTO events (name, created_at) VALUES ('e', 1) RETURNING id"
        : table == "outbox" ? "INSERT INTO outbox (job, message, next_attempt_at, created_at) VALUES ('j', '{}', 1, 1) RETURNING id"
                            : "INSERT INTO audit_log (at, actor, action, target) VALUES (1, 'a', 'b', 'c') RETURNING id";
    CHECK(conn.value(insert) == std::to_string(max_id + 1));
  }
}

TEST_CASE("migrate-state refuses a database whose state tables hold rows, naming the table, and copies nothing", "[db][store][postgres]") {
  StateFile file;
  SECTION("a second copy into the same database") {
    test::PgTestDatabase database("copy_twice");
    REQUIRE(copy_state(file.path, PgTarget{database.url(), database.password()}));
    const auto conn = database.connect();
    const int64_t runs = pg_count(conn, "runs");
    auto again = copy_state(file.path, PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(again);
    CHECK(again.message() == "the database already holds rows in table job_state: migrate-state copies into an empty "
                             "state database only; nothing was copied");
    CHECK(pg_count(conn, "runs") == runs);
  }
  SECTION("one row in the last table copied") {
    test::PgTestDatabase database("copy_nonempty");
    REQUIRE(copy_state(file.path, PgTarget{database.url(), database.password()}));  // migrates, fills
    const auto conn = database.connect();
    conn.rows("DELETE FROM job_state; DELETE FROM runs; DELETE FROM kv; DELETE FROM approvals; DELETE FROM events; "
              "DELETE FROM outbox; DELETE FROM registered_jobs; DELETE FROM audit_log WHERE action <> 'job.trigger'");
    REQUIRE(pg_count(conn, "audit_log") == 1);
    auto refused = copy_state(file.path, PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(refused);
    CHECK(refused.message().find("already holds rows in table audit_log") != std::string::npos);
    CHECK(pg_count(conn, "job_state") == 0);
    CHECK(pg_count(conn, "runs") == 0);
  }
}

TEST_CASE("migrate-state refuses a state file a host is running on, at another schema version, or not there", "[db][store][postgres]") {
  StateFile file;
  test::PgTestDatabase database("copy_refused");
  SECTION("a host holds the file") {
    auto daemon = Store::open(file.path);
    REQUIRE(daemon);
    auto refused = copy_state(file.path, PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(refused);
    CHECK(refused.message() == "another cronhost (pid " + std::to_string(::getpid()) + ") is using the state file " +
                                   file.path.string() +
                                   " (it holds a lock on the file, whatever name reaches it): stop it before copying the state");
  }
  const std::string current = std::to_string(store::migrations().size());
  const std::string newer = std::to_string(store::migrations().size() + 1);
  SECTION("the file is at version 7") {
    file.exec("PRAGMA user_version = 7");
    auto refused = copy_state(file.path, PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(refused);
    CHECK(refused.message() == "the state file " + file.path.string() +
                                   " is at schema version 7, and migrate-state copies version " + current +
                                   ": start the host once on it with this build (cronhost run --state " +
                                   file.path.string() + "), stop it, then copy");
  }
  SECTION("the file is from a newer cronhost") {
    file.exec("PRAGMA user_version = " + newer);
    auto refused = copy_state(file.path, PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(refused);
    CHECK(refused.message() == "the state file " + file.path.string() + " is at schema version " + newer +
                                   ", newer than this cronhost knows (" + current + "): use the newer cronhost");
  }
  SECTION("the file is not a state file") {
    const auto garbage = file.dir.write("notes.txt", std::string(4096, 'x'));
    auto refused = copy_state(garbage, PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(refused);
    CHECK(refused.message() == "state file " + garbage.string() + ": file is not a database; nothing was copied");
  }
  SECTION("no file") {
    auto refused = copy_state(file.dir.path() / "missing.db", PgTarget{database.url(), database.password()});
    REQUIRE_FALSE(refused);
    CHECK(refused.message() == "no state file at " + (file.dir.path() / "missing.db").string());
    CHECK_FALSE(std::filesystem::exists(file.dir.path() / "missing.db"));  // not created by the lock
  }
  // Nothing reached the database: not even the schema.
  CHECK(database.connect().rows("SELECT to_regclass('runs')") == std::vector<test::PgRow>{{std::nullopt}});
}

TEST_CASE("migrate-state with a wrong password fails cleanly and never shows the password", "[db][store][postgres]") {
  StateFile file;
  test::PgTestDatabase database("copy_password");
  const std::string wrong = "not-the-password-" + database.name();
  auto refused = copy_state(file.path, PgTarget{database.url(), wrong});
  REQUIRE_FALSE(refused);
  CHECK(refused.message().rfind("cannot connect to " + database.url() + ": ", 0) == 0);
  CHECK(refused.message().find("password authentication failed") != std::string::npos);
  CHECK(refused.message().find(wrong) == std::string::npos);
  CHECK(refused.message().find(database.password()) == std::string::npos);
  CHECK(Store::open(file.path));  // the lock was given back
}

TEST_CASE("migrate-state names the row PostgreSQL cannot take and copies nothing", "[db][store][postgres]") {
  StateFile file;
  test::PgTestDatabase database("copy_bad_row");
  std::string expected;
  SECTION("text that is not UTF-8 (checked before sending)") {
    file.exec("UPDATE runs SET error = CAST(x'6f6bff21' AS TEXT) WHERE id = 3");
    expected = "table runs, row id=3: column error is not UTF-8 text (or holds a NUL byte); nothing was copied";
  }
  SECTION("a value the server refuses (its COPY line mapped back to the row)") {
    file.exec("UPDATE runs SET duration_ms = 'slow' WHERE id = 4");  // SQLite keeps text in an INTEGER column
    expected = "table runs, row id=4: invalid input syntax for type bigint: \"slow\"; nothing was copied";
  }
  auto refused = copy_state(file.path, PgTarget{database.url(), database.password()});
  REQUIRE_FALSE(refused);
  CHECK(refused.message() == expected);
  const auto conn = database.connect();
  for (const auto table : state_tables()) CHECK(pg_count(conn, std::string(table)) == 0);  // job_state's rows too
}
