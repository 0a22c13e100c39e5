// The PostgreSQL store's approvals and host events (store/pg_store.hpp), the SQLite ones
// (store/sqlite_approvals.cpp) translated: every method runs as one task on the writer
// thread, inside its batch's transaction, and a change and the event announcing it commit
// together. Rows an approval change reads before writing are locked (FOR UPDATE) so that
// another connection's change waits instead of acting on the same state.
#include <nlohmann/json.hpp>

#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/call_result.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {
namespace {

using namespace pg;

constexpr const char* kApprovalColumns =
    "id, job, kind, key, title, payload, status, requested_at, decided_by, decided_at, executed_at, notes, "
    "group_key, superseded_by, closed_at";

Approval read_approval(const PgRow& row) {
  Approval a;
  a.id = integer(row[0]);
  a.job = text(row[1]);
  a.kind = text(row[2]);
  a.key = text(row[3]);
  a.title = text(row[4]);
  a.payload_json = text(row[5]);
  a.status = parse_approval_status(text(row[6])).value_or(ApprovalStatus::kPending);
  a.requested_at = integer(row[7]);
  a.decided_by = text(row[8]);
  a.decided_at = optional_int(row[9]);
  a.executed_at = optional_int(row[10]);
  a.notes = text(row[11]);
  a.group = text(row[12]);
  a.superseded_by = optional_int(row[13]);
  a.closed_at = optional_int(row[14]);
  return a;
}

std::optional<Approval> first(const PgRows& rows) {
  if (rows.rows.empty()) return std::nullopt;
  return read_approval(rows.rows[0]);
}

std::optional<Approval> select_by_id(PgSession& db, int64_t id, bool lock = false) {
  return first(db.run(std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE id = $1::bigint" +
                          (lock ? " FOR UPDATE" : ""),
                      {param(id)}));
}

// `job` empty: an approval no job asked for (stored as NULL); `IS NOT DISTINCT FROM` is SQLite's `IS`.
std::optional<Approval> select_open(PgSession& db, const std::string& job, const std::string& kind,
                                    const std::string& key) {
  return first(db.run(std::string("SELECT ") + kApprovalColumns +
                          " FROM approvals WHERE job IS NOT DISTINCT FROM $1::text AND kind = $2 AND key = $3 "
                          "AND status IN ('PENDING', 'APPROVED')",
                      {text_or_null(job), param(kind), param(key)}));
}

std::optional<Approval> select_executed(PgSession& db, const std::string& job, const std::string& kind,
                                        const std::string& key) {
  return first(db.run(std::string("SELECT ") + kApprovalColumns +
                          " FROM approvals WHERE job IS NOT DISTINCT FROM $1::text AND kind = $2 AND key = $3 "
                          "AND status = 'EXECUTED' ORDER BY id DESC LIMIT 1",
                      {text_or_null(job), param(kind), param(key)}));
}

std::string refusal(PgSession& db, int64_t id, const std::string& only) {
  auto current = select_by_id(db, id);
  if (!current) return "no approval " + std::to_string(id);
  return "approval " + std::to_string(id) + " is " + std::string(to_string(current->status)) + "; only " + only;
}

// Makes one change all-or-nothing inside the batch's transaction: a change refused half way
// (a Result error, not an SQL error) must not leave its first writes to commit with the batch.
// (An SQL error aborts the whole transaction; the writer runs the batch again without it.)
class WriteScope {
 public:
  explicit WriteScope(PgSession& db) : db_(db) { db_.run("SAVEPOINT approval_change"); }
  ~WriteScope() {
    if (committed_) return;
    try {
      db_.run("ROLLBACK TO SAVEPOINT approval_change");
      db_.run("RELEASE SAVEPOINT approval_change");
    } catch (const std::exception&) {
      // the connection is gone; the writer rolls the batch back
    }
  }
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;

  void commit() {
    db_.run("RELEASE SAVEPOINT approval_change");
    committed_ = true;
  }

 private:
  PgSession& db_;
  bool committed_ = false;
};

void insert_event(PgSession& db, const std::string& name, const nlohmann::json& payload, int64_t now) {
  db.run("INSERT INTO events (name, payload, created_at) VALUES ($1, $2, $3::bigint)",
         {param(name), param(payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), param(now)});
}

void insert_audit(PgSession& db, const std::string& actor, const std::string& action, int64_t id,
                  const std::string& by, const std::string& note, int64_t now) {
  nlohmann::json detail = {{"note", note}};
  if (by != actor) detail["by"] = by;
  db.run("INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1::bigint, $2, $3, $4, $5)",
         {param(now), param(actor), param(action), param(std::to_string(id)),
          param(detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))});
}

nlohmann::json event_payload(const Approval& a, const std::string& note) {
  nlohmann::json payload = approval_to_json(a);
  payload["note"] = note.empty() ? nlohmann::json(nullptr) : nlohmann::json(note);
  return payload;
}

// See supersede_older in sqlite_approvals.cpp: the group's older open approvals of the same job.
void supersede_older(PgSession& db, const Approval& approved, int64_t now) {
  auto rows = db.run(std::string("SELECT ") + kApprovalColumns +
                         " FROM approvals WHERE job IS NOT DISTINCT FROM $1::text AND kind = $2 AND group_key = $3 "
                         "AND id < $4::bigint AND status IN ('PENDING', 'APPROVED') ORDER BY id FOR UPDATE",
                     {text_or_null(approved.job), param(approved.kind), param(approved.group), param(approved.id)});
  for (const auto& row : rows.rows) {
    Approval a = read_approval(row);
    db.run("UPDATE approvals SET status = 'SUPERSEDED', superseded_by = $1::bigint, closed_at = $2::bigint "
           "WHERE id = $3::bigint",
           {param(approved.id), param(now), param(a.id)});
    a.status = ApprovalStatus::kSuperseded;
    a.superseded_by = approved.id;
    a.closed_at = now;
    insert_event(db, "approval.superseded", event_payload(a, ""), now);
  }
}

}  // namespace

Result<RequestedApproval> PgStore::approval_request(const ApprovalAsk& ask, int64_t now) {
  return call_result<RequestedApproval>(*db_, "approvals", [&](PgSession& db) -> Result<RequestedApproval> {
    WriteScope scope(db);
    // As in SQLite: one statement that inserts only when no open (with `once`: nor executed)
    // approval exists; the unique index approvals_open stays the guarantee across connections
    // (a concurrent insert waits for the other's commit, then does nothing).
    auto inserted = db.run(
        "INSERT INTO approvals (job, kind, key, title, payload, status, requested_at, group_key) "
        "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, 'PENDING', $6::bigint, $7::text WHERE NOT EXISTS ("
        "SELECT 1 FROM approvals WHERE job IS NOT DISTINCT FROM $1::text AND kind = $2::text AND key = $3::text "
        "AND (status IN ('PENDING', 'APPROVED') OR ($8::boolean AND status = 'EXECUTED'))) "
        "ON CONFLICT DO NOTHING",
        {text_or_null(ask.job), param(ask.kind), param(ask.key), param(ask.title),
         param(ask.payload_json.empty() ? std::string("{}") : ask.payload_json), param(now), text_or_null(ask.group),
         param_bool(ask.once)});
    const bool created = inserted.affected == 1;
    auto found = select_open(db, ask.job, ask.kind, ask.key);
    if (!found && ask.once) found = select_executed(db, ask.job, ask.kind, ask.key);
    if (!found)
      return Result<RequestedApproval>::error("approvals: the request for " + ask.kind + " " + ask.key + " vanished");
    scope.commit();
    return RequestedApproval{std::move(*found), created};
  });
}

Result<std::vector<Approval>> PgStore::approvals(const ApprovalQuery& query) {
  return call_result<std::vector<Approval>>(*db_, "approvals", [&query](PgSession& db) -> Result<std::vector<Approval>> {
    std::string sql = std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE 1 = 1";
    std::vector<PgParam> params;
    const auto next = [&params](PgParam value) {
      params.push_back(std::move(value));
      return "$" + std::to_string(params.size());
    };
    if (!query.kind.empty()) sql += " AND kind = " + next(query.kind);
    if (!query.key.empty()) sql += " AND key = " + next(query.key);
    if (!query.job.empty()) sql += " AND job = " + next(query.job);
    if (query.jobs) {
      sql += " AND job IN (";
      for (size_t i = 0; i < query.jobs->size(); ++i) sql += (i ? ", " : "") + next((*query.jobs)[i]);
      sql += query.jobs->empty() ? "NULL)" : ")";  // IN () is a syntax error in PostgreSQL: match nothing
    }
    if (query.status) sql += " AND status = " + next(std::string(to_string(*query.status)));
    sql += " ORDER BY id DESC LIMIT " + next(std::to_string(query.limit)) + "::bigint";
    std::vector<Approval> out;
    for (const auto& row : db.run(sql, params).rows) out.push_back(read_approval(row));
    return out;
  });
}

Result<std::optional<Approval>> PgStore::approval(int64_t id) {
  return call_result<std::optional<Approval>>(
      *db_, "approvals", [id](PgSession& db) -> Result<std::optional<Approval>> { return select_by_id(db, id); });
}

Result<std::optional<Approval>> PgStore::approval_open(const std::string& job, const std::string& kind,
                                                       const std::string& key) {
  return call_result<std::optional<Approval>>(
      *db_, "approvals", [&](PgSession& db) -> Result<std::optional<Approval>> { return select_open(db, job, kind, key); });
}

Result<Approval> PgStore::approval_decide(int64_t id, ApprovalStatus decision, const std::string& by,
                                          const std::string& note, int64_t now, const std::string& actor) {
  if (decision != ApprovalStatus::kApproved)
    return Result<Approval>::error("an approval can only be decided APPROVED (cancel it to refuse it)");
  if (by.empty()) return Result<Approval>::error("approving needs the name of who decides");
  return call_result<Approval>(*db_, "approvals", [&](PgSession& db) -> Result<Approval> {
    WriteScope scope(db);
    auto updated = db.run("UPDATE approvals SET status = 'APPROVED', decided_by = $1, decided_at = $2::bigint, "
                          "notes = $3 WHERE id = $4::bigint AND status = 'PENDING'",
                          {param(by), param(now), text_or_null(note), param(id)});
    if (updated.affected == 0) return Result<Approval>::error(refusal(db, id, "a PENDING approval can be approved"));
    Approval approved = *select_by_id(db, id);
    insert_event(db, "approval.approved", event_payload(approved, note), now);
    if (!approved.group.empty()) supersede_older(db, approved, now);
    if (!actor.empty()) insert_audit(db, actor, "approval.approve", id, by, note, now);
    scope.commit();
    return approved;
  });
}

Result<Approval> PgStore::approval_cancel(int64_t id, const std::string& by, const std::string& note, int64_t now,
                                          const std::string& actor) {
  if (by.empty()) return Result<Approval>::error("cancelling needs the name of who cancels");
  return call_result<Approval>(*db_, "approvals", [&](PgSession& db) -> Result<Approval> {
    WriteScope scope(db);
    auto found = select_by_id(db, id, true);
    if (!found || (found->status != ApprovalStatus::kPending && found->status != ApprovalStatus::kApproved))
      return Result<Approval>::error(refusal(db, id, "a PENDING or APPROVED approval can be cancelled"));
    db.run("DELETE FROM approvals WHERE id = $1::bigint", {param(id)});
    nlohmann::json payload = event_payload(*found, note);
    payload["cancelled_by"] = by;
    insert_event(db, "approval.cancelled", payload, now);
    if (!actor.empty()) insert_audit(db, actor, "approval.cancel", id, by, note, now);
    scope.commit();
    return *found;
  });
}

Result<Approval> PgStore::approval_mark(int64_t id, ApprovalStatus outcome, const std::string& notes, int64_t now) {
  if (outcome != ApprovalStatus::kExecuted && outcome != ApprovalStatus::kFailed &&
      outcome != ApprovalStatus::kSuperseded)
    return Result<Approval>::error("an approval can only be marked EXECUTED, FAILED or SUPERSEDED");
  return call_result<Approval>(*db_, "approvals", [&](PgSession& db) -> Result<Approval> {
    WriteScope scope(db);
    auto updated = db.run(
        "UPDATE approvals SET status = $1::text, closed_at = $2::bigint, "
        "executed_at = CASE WHEN $1::text = 'EXECUTED' THEN $2::bigint END, notes = CASE "
        "WHEN $3::text IS NULL THEN notes WHEN coalesce(notes, '') = '' THEN $3::text "
        "ELSE notes || chr(10) || $3::text END WHERE id = $4::bigint AND status = 'APPROVED'",
        {param(std::string(to_string(outcome))), param(now), text_or_null(notes), param(id)});
    if (updated.affected == 0)
      return Result<Approval>::error(
          refusal(db, id, "an APPROVED approval can be marked " + std::string(to_string(outcome))));
    Approval marked = *select_by_id(db, id);
    scope.commit();
    return marked;
  });
}

Result<std::vector<Event>> PgStore::events_after(int64_t last_id, int limit) {
  return call_result<std::vector<Event>>(*db_, "approvals", [=](PgSession& db) -> Result<std::vector<Event>> {
    auto rows = db.run("SELECT id, name, payload, created_at, delivered_at FROM events "
                       "WHERE id > $1::bigint AND delivered_at IS NULL ORDER BY id LIMIT $2::bigint",
                       {param(last_id), param(int64_t{limit})});
    std::vector<Event> out;
    for (const auto& row : rows.rows)
      out.push_back({integer(row[0]), text(row[1]), text(row[2]), integer(row[3]), optional_int(row[4])});
    return out;
  });
}

Result<bool> PgStore::event_delivered(int64_t id, int64_t now) {
  return call_result<bool>(*db_, "approvals", [=](PgSession& db) -> Result<bool> {
    // The row lock makes hosts that take the same event at once wait for each other: one marks it.
    auto updated = db.run("UPDATE events SET delivered_at = $1::bigint WHERE id = $2::bigint AND delivered_at IS NULL",
                          {param(now), param(id)});
    if (updated.affected == 1) return true;
    if (db.run("SELECT 1 FROM events WHERE id = $1::bigint", {param(id)}).rows.empty())
      return Result<bool>::error("no event " + std::to_string(id));
    return false;
  });
}

}  // namespace cronhost::store
