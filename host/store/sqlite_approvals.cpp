// The SQLite store's approvals and host events (store/sqlite_store.hpp). Every method runs
// as one task on the database thread; a change and the event announcing it are one
// transaction, so a decision is never half recorded.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "store/call_result.hpp"
#include "store/column_values.hpp"
#include "store/db_thread.hpp"
#include "store/sqlite_store.hpp"
#include "util/time_format.hpp"

namespace cronhost::store {
namespace {

constexpr const char* kApprovalColumns =
    "id, job, kind, key, title, payload, status, requested_at, decided_by, decided_at, executed_at, notes, "
    "group_key, superseded_by, closed_at";

Approval read_approval(SQLite::Statement& q) {
  Approval a;
  a.id = q.getColumn(0).getInt64();
  a.job = text(q.getColumn(1));
  a.kind = q.getColumn(2).getString();
  a.key = q.getColumn(3).getString();
  a.title = q.getColumn(4).getString();
  a.payload_json = q.getColumn(5).getString();
  a.status = parse_approval_status(q.getColumn(6).getString()).value_or(ApprovalStatus::kPending);
  a.requested_at = q.getColumn(7).getInt64();
  a.decided_by = text(q.getColumn(8));
  a.decided_at = optional_int(q.getColumn(9));
  a.executed_at = optional_int(q.getColumn(10));
  a.notes = text(q.getColumn(11));
  a.group = text(q.getColumn(12));
  a.superseded_by = optional_int(q.getColumn(13));
  a.closed_at = optional_int(q.getColumn(14));
  return a;
}

std::optional<Approval> select_by_id(SQLite::Database& db, int64_t id) {
  SQLite::Statement q(db, std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_approval(q);
}

// `job` empty: an approval no job asked for (stored as NULL).
void bind_job(SQLite::Statement& q, int index, const std::string& job) {
  if (job.empty()) q.bind(index);
  else q.bind(index, job);
}

std::optional<Approval> select_open(SQLite::Database& db, const std::string& job, const std::string& kind,
                                    const std::string& key) {
  SQLite::Statement q(db, std::string("SELECT ") + kApprovalColumns +
                              " FROM approvals WHERE job IS ? AND kind = ? AND key = ? AND status IN ('PENDING', 'APPROVED')");
  bind_job(q, 1, job);
  q.bind(2, kind);
  q.bind(3, key);
  if (!q.executeStep()) return std::nullopt;
  return read_approval(q);
}

// The job's newest EXECUTED approval for (kind, key): what a request with `once` answers with.
std::optional<Approval> select_executed(SQLite::Database& db, const std::string& job, const std::string& kind,
                                        const std::string& key) {
  SQLite::Statement q(db, std::string("SELECT ") + kApprovalColumns +
                              " FROM approvals WHERE job IS ? AND kind = ? AND key = ? AND status = 'EXECUTED' "
                              "ORDER BY id DESC LIMIT 1");
  bind_job(q, 1, job);
  q.bind(2, kind);
  q.bind(3, key);
  if (!q.executeStep()) return std::nullopt;
  return read_approval(q);
}

// "no approval 7", or why approval 7 cannot take this step.
std::string refusal(SQLite::Database& db, int64_t id, const std::string& only) {
  auto current = select_by_id(db, id);
  if (!current) return "no approval " + std::to_string(id);
  return "approval " + std::to_string(id) + " is " + std::string(to_string(current->status)) + "; only " + only;
}

// Makes one change all-or-nothing. On the daemon's connection the batch transaction is already
// open, so a savepoint scopes the change inside it (a failed task must not leave half its
// writes to be committed with the batch). On a client connection (autocommit) BEGIN IMMEDIATE
// takes the write lock before the first read, so the check and the write see one state of the
// file, and it waits out the daemon's transaction (busy timeout) instead of failing later.
class WriteScope {
 public:
  explicit WriteScope(SQLite::Database& db) : db_(db), nested_(sqlite3_get_autocommit(db.getHandle()) == 0) {
    db_.exec(nested_ ? "SAVEPOINT approval_change" : "BEGIN IMMEDIATE");
  }
  ~WriteScope() {
    if (committed_) return;
    try {
      db_.exec(nested_ ? "ROLLBACK TO approval_change; RELEASE approval_change" : "ROLLBACK");
    } catch (const std::exception&) {
      // SQLite already rolled back (e.g. after a full disk); nothing left to undo
    }
  }
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;

  void commit() {
    db_.exec(nested_ ? "RELEASE approval_change" : "COMMIT");
    committed_ = true;
  }

 private:
  SQLite::Database& db_;
  const bool nested_;
  bool committed_ = false;
};

void insert_event(SQLite::Database& db, const std::string& name, const nlohmann::json& payload, int64_t now) {
  SQLite::Statement q(db, "INSERT INTO events (name, payload, created_at) VALUES (?, ?, ?)");
  q.bind(1, name);
  q.bind(2, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));  // a note typed in Latin-1
  q.bind(3, now);
  q.exec();
}

void insert_audit(SQLite::Database& db, const std::string& actor, const std::string& action, int64_t id,
                  const std::string& by, const std::string& note, int64_t now) {
  nlohmann::json detail = {{"note", note}};
  if (by != actor) detail["by"] = by;  // the CLI's --by: the person named, not the local user
  SQLite::Statement q(db, "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)");
  q.bind(1, now);
  q.bind(2, actor);
  q.bind(3, action);
  q.bind(4, std::to_string(id));
  q.bind(5, detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  q.exec();
}

nlohmann::json event_payload(const Approval& a, const std::string& note) {
  nlohmann::json payload = approval_to_json(a);
  payload["note"] = note.empty() ? nlohmann::json(nullptr) : nlohmann::json(note);
  return payload;
}

// Approving `approved` answers the question its group's older open approvals asked (deploy
// 0.1.8 answers "deploy 0.1.6?"): they become SUPERSEDED, so only the newest approved one is
// acted on. Only older ones: a newer PENDING approval stays open, since approving an older
// version does not answer whether to take a newer one. A group is the asking job's own.
void supersede_older(SQLite::Database& db, const Approval& approved, int64_t now) {
  SQLite::Statement older(db, std::string("SELECT ") + kApprovalColumns +
                                  " FROM approvals WHERE job IS ? AND kind = ? AND group_key = ? AND id < ? "
                                  "AND status IN ('PENDING', 'APPROVED') ORDER BY id");
  bind_job(older, 1, approved.job);
  older.bind(2, approved.kind);
  older.bind(3, approved.group);
  older.bind(4, approved.id);
  std::vector<Approval> superseded;
  while (older.executeStep()) superseded.push_back(read_approval(older));
  for (auto& a : superseded) {
    SQLite::Statement q(db, "UPDATE approvals SET status = 'SUPERSEDED', superseded_by = ?, closed_at = ? WHERE id = ?");
    q.bind(1, approved.id);
    q.bind(2, now);
    q.bind(3, a.id);
    q.exec();
    a.status = ApprovalStatus::kSuperseded;
    a.superseded_by = approved.id;
    a.closed_at = now;
    insert_event(db, "approval.superseded", event_payload(a, ""), now);
  }
}

}  // namespace

nlohmann::json approval_to_json(const Approval& a) {
  const auto when = [](std::optional<int64_t> ms) -> nlohmann::json {
    if (!ms) return nullptr;
    return format_rfc3339(Instant(std::chrono::seconds(*ms / 1000)), 0);
  };
  const auto text_or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  auto payload = nlohmann::json::parse(a.payload_json, nullptr, false);
  return {{"id", a.id},
          {"job", text_or_null(a.job)},
          {"kind", a.kind},
          {"key", a.key},
          {"title", a.title},
          {"payload", payload.is_discarded() ? nlohmann::json(a.payload_json) : payload},
          {"status", std::string(to_string(a.status))},
          {"requested_at", when(a.requested_at)},
          {"decided_by", text_or_null(a.decided_by)},
          {"decided_at", when(a.decided_at)},
          {"executed_at", when(a.executed_at)},
          {"closed_at", when(a.closed_at)},
          {"notes", text_or_null(a.notes)},
          {"group", text_or_null(a.group)},
          {"superseded_by", a.superseded_by ? nlohmann::json(*a.superseded_by) : nlohmann::json(nullptr)}};
}

Result<RequestedApproval> SqliteStore::approval_request(const ApprovalAsk& ask, int64_t now) {
  return call_result<RequestedApproval>(*db_, "approvals", [&](SQLite::Database& db) -> Result<RequestedApproval> {
    WriteScope scope(db);
    // One statement that writes only when no open approval exists (with `once`: nor an
    // executed one): it takes the write lock before it looks, and an id is used only by a row
    // actually inserted (ON CONFLICT alone used one per check, so ids grew with every run of a
    // job that asks). The unique index on open (job, kind, key) stays the guarantee.
    SQLite::Statement insert(
        db,
        "INSERT INTO approvals (job, kind, key, title, payload, status, requested_at, group_key) "
        "SELECT :job, :kind, :key, :title, :payload, 'PENDING', :now, :group WHERE NOT EXISTS ("
        "SELECT 1 FROM approvals WHERE job IS :job AND kind = :kind AND key = :key "
        "AND (status IN ('PENDING', 'APPROVED') OR (:once AND status = 'EXECUTED'))) "
        "ON CONFLICT DO NOTHING");
    if (!ask.job.empty()) insert.bind(":job", ask.job);
    insert.bind(":kind", ask.kind);
    insert.bind(":key", ask.key);
    insert.bind(":title", ask.title);
    insert.bind(":payload", ask.payload_json.empty() ? std::string("{}") : ask.payload_json);
    insert.bind(":now", now);
    if (!ask.group.empty()) insert.bind(":group", ask.group);
    insert.bind(":once", ask.once ? 1 : 0);
    const bool created = insert.exec() == 1;
    auto found = select_open(db, ask.job, ask.kind, ask.key);
    if (!found && ask.once) found = select_executed(db, ask.job, ask.kind, ask.key);
    if (!found)
      return Result<RequestedApproval>::error("approvals: the request for " + ask.kind + " " + ask.key + " vanished");
    scope.commit();
    return RequestedApproval{std::move(*found), created};
  });
}

Result<std::vector<Approval>> SqliteStore::approvals(const ApprovalQuery& query) {
  return call_result<std::vector<Approval>>(*db_, "approvals", [&query](SQLite::Database& db) -> Result<std::vector<Approval>> {
    std::string sql = std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE 1 = 1";
    if (!query.kind.empty()) sql += " AND kind = :kind";
    if (!query.key.empty()) sql += " AND key = :key";
    if (!query.job.empty()) sql += " AND job = :job";
    if (query.jobs) {
      sql += " AND job IN (";
      for (size_t i = 0; i < query.jobs->size(); ++i) sql += (i ? ", :job" : ":job") + std::to_string(i);
      sql += ")";
    }
    if (query.status) sql += " AND status = :status";
    sql += " ORDER BY id DESC LIMIT :limit";
    SQLite::Statement q(db, sql);
    if (!query.kind.empty()) q.bind(":kind", query.kind);
    if (!query.key.empty()) q.bind(":key", query.key);
    if (!query.job.empty()) q.bind(":job", query.job);
    if (query.jobs)
      for (size_t i = 0; i < query.jobs->size(); ++i) q.bind(":job" + std::to_string(i), (*query.jobs)[i]);
    if (query.status) q.bind(":status", std::string(to_string(*query.status)));
    q.bind(":limit", query.limit);
    std::vector<Approval> out;
    while (q.executeStep()) out.push_back(read_approval(q));
    return out;
  });
}

Result<std::optional<Approval>> SqliteStore::approval(int64_t id) {
  return call_result<std::optional<Approval>>(
      *db_, "approvals", [id](SQLite::Database& db) -> Result<std::optional<Approval>> { return select_by_id(db, id); });
}

Result<std::optional<Approval>> SqliteStore::approval_open(const std::string& job, const std::string& kind,
                                                           const std::string& key) {
  return call_result<std::optional<Approval>>(
      *db_, "approvals", [&](SQLite::Database& db) -> Result<std::optional<Approval>> { return select_open(db, job, kind, key); });
}

Result<Approval> SqliteStore::approval_decide(int64_t id, ApprovalStatus decision, const std::string& by,
                                              const std::string& note, int64_t now, const std::string& actor) {
  if (decision != ApprovalStatus::kApproved)
    return Result<Approval>::error("an approval can only be decided APPROVED (cancel it to refuse it)");
  if (by.empty()) return Result<Approval>::error("approving needs the name of who decides");
  return call_result<Approval>(*db_, "approvals", [&](SQLite::Database& db) -> Result<Approval> {
    WriteScope scope(db);
    // Write first: the status check and the change are one statement.
    SQLite::Statement q(db,
                        "UPDATE approvals SET status = 'APPROVED', decided_by = ?, decided_at = ?, notes = ? "
                        "WHERE id = ? AND status = 'PENDING'");
    q.bind(1, by);
    q.bind(2, now);
    if (!note.empty()) q.bind(3, note);
    q.bind(4, id);
    if (q.exec() == 0) return Result<Approval>::error(refusal(db, id, "a PENDING approval can be approved"));
    Approval approved = *select_by_id(db, id);
    insert_event(db, "approval.approved", event_payload(approved, note), now);
    if (!approved.group.empty()) supersede_older(db, approved, now);
    if (!actor.empty()) insert_audit(db, actor, "approval.approve", id, by, note, now);
    scope.commit();
    return approved;
  });
}

Result<Approval> SqliteStore::approval_cancel(int64_t id, const std::string& by, const std::string& note, int64_t now,
                                              const std::string& actor) {
  if (by.empty()) return Result<Approval>::error("cancelling needs the name of who cancels");
  return call_result<Approval>(*db_, "approvals", [&](SQLite::Database& db) -> Result<Approval> {
    WriteScope scope(db);
    auto found = select_by_id(db, id);
    if (!found || (found->status != ApprovalStatus::kPending && found->status != ApprovalStatus::kApproved))
      return Result<Approval>::error(refusal(db, id, "a PENDING or APPROVED approval can be cancelled"));
    SQLite::Statement q(db, "DELETE FROM approvals WHERE id = ?");
    q.bind(1, id);
    q.exec();
    // The deleted record lives on in the event: the record of who cancelled what.
    nlohmann::json payload = event_payload(*found, note);
    payload["cancelled_by"] = by;
    insert_event(db, "approval.cancelled", payload, now);
    if (!actor.empty()) insert_audit(db, actor, "approval.cancel", id, by, note, now);
    scope.commit();
    return *found;
  });
}

Result<Approval> SqliteStore::approval_mark(int64_t id, ApprovalStatus outcome, const std::string& notes, int64_t now) {
  if (outcome != ApprovalStatus::kExecuted && outcome != ApprovalStatus::kFailed &&
      outcome != ApprovalStatus::kSuperseded)
    return Result<Approval>::error("an approval can only be marked EXECUTED, FAILED or SUPERSEDED");
  return call_result<Approval>(*db_, "approvals", [&](SQLite::Database& db) -> Result<Approval> {
    WriteScope scope(db);
    SQLite::Statement q(db,
                        "UPDATE approvals SET status = :status, closed_at = :now, "
                        "executed_at = CASE WHEN :status = 'EXECUTED' THEN :now END, notes = CASE "
                        "WHEN :notes IS NULL THEN notes WHEN coalesce(notes, '') = '' THEN :notes "
                        "ELSE notes || char(10) || :notes END WHERE id = :id AND status = 'APPROVED'");
    q.bind(":status", std::string(to_string(outcome)));
    q.bind(":now", now);
    if (!notes.empty()) q.bind(":notes", notes);
    q.bind(":id", id);
    if (q.exec() == 0)
      return Result<Approval>::error(
          refusal(db, id, "an APPROVED approval can be marked " + std::string(to_string(outcome))));
    Approval marked = *select_by_id(db, id);
    scope.commit();
    return marked;
  });
}

Result<std::vector<Event>> SqliteStore::events_after(int64_t last_id, int limit) {
  return call_result<std::vector<Event>>(*db_, "approvals", [=](SQLite::Database& db) -> Result<std::vector<Event>> {
    SQLite::Statement q(db,
                        "SELECT id, name, payload, created_at, delivered_at FROM events "
                        "WHERE id > ? AND delivered_at IS NULL ORDER BY id LIMIT ?");
    q.bind(1, last_id);
    q.bind(2, limit);
    std::vector<Event> out;
    while (q.executeStep())
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                     q.getColumn(3).getInt64(), optional_int(q.getColumn(4))});
    return out;
  });
}

Result<bool> SqliteStore::event_delivered(int64_t id, int64_t now) {
  return call_result<bool>(*db_, "approvals", [=](SQLite::Database& db) -> Result<bool> {
    SQLite::Statement q(db, "UPDATE events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL");
    q.bind(1, now);
    q.bind(2, id);
    if (q.exec() == 1) return true;
    SQLite::Statement known(db, "SELECT count(*) FROM events WHERE id = ?");
    known.bind(1, id);
    known.executeStep();
    if (known.getColumn(0).getInt64() == 0) return Result<bool>::error("no event " + std::to_string(id));
    return false;
  });
}

}  // namespace cronhost::store
