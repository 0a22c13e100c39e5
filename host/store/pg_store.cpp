// The PostgreSQL store's runs, job state and key-value store, and opening it. Each method is
// the SQLite one (store/sqlite_store.cpp) with the SQL translated (design 2.1): ON CONFLICT
// for INSERT OR IGNORE/REPLACE, GREATEST for max(a, b), chr(10) for char(10), $n parameters.
#include "store/pg_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/history_prune.hpp"
#include "store/pg_claims.hpp"
#include "store/pg_migrations.hpp"
#include "store/pg_schema.hpp"
#include "store/pg_session.hpp"
#include "store/pg_values.hpp"
#include "store/pg_writer.hpp"
#include "util/log.hpp"
#include "util/offset_clock.hpp"

namespace cronhost::store {
namespace {

using namespace pg;

constexpr const char* kRunColumns =
    "id, job, trigger, scheduled_for, attempt, first_run_id, status, started_at, finished_at, duration_ms, "
    "lateness_ms, result, error, output, output_truncated, notes, triggered_by, items_processed, items_succeeded, "
    "items_failed, params, retry_at, event, host";
constexpr size_t kRunColumnCount = 24;  // a column after kRunColumns is row[kRunColumnCount]

RunRecord read_run(const PgRow& row) {
  RunRecord r;
  r.id = integer(row[0]);
  r.job = text(row[1]);
  r.trigger = parse_trigger(text(row[2])).value_or(Trigger::kSchedule);
  r.scheduled_for = integer(row[3]);
  r.attempt = static_cast<int>(integer(row[4]));
  r.first_run_id = optional_int(row[5]);
  r.status = parse_status(text(row[6])).value_or(RunStatus::kQueued);
  r.started_at = optional_int(row[7]);
  r.finished_at = optional_int(row[8]);
  r.duration_ms = optional_int(row[9]);
  r.lateness_ms = optional_int(row[10]);
  r.result_json = text(row[11]);
  r.error = text(row[12]);
  r.output = text(row[13]);
  r.output_truncated = boolean(row[14]);
  r.notes = text(row[15]);
  r.triggered_by = text(row[16]);
  if (row[17]) r.items = RunItems{integer(row[17]), integer(row[18]), integer(row[19])};
  r.params_json = text(row[20]);
  r.retry_at = optional_int(row[21]);
  r.event_json = text(row[22]);
  r.host = text(row[23]);
  return r;
}

constexpr const char* kJobStateColumns =
    "job, enabled_override, last_slot, next_fire, runs, successes, failures, last_status, last_finished_at, "
    "schedule_override";

JobState read_job_state(const PgRow& row) {
  JobState s;
  s.job = text(row[0]);
  if (row[1]) s.enabled_override = boolean(row[1]);
  s.last_slot = optional_int(row[2]);
  s.next_fire = optional_int(row[3]);
  s.runs = integer(row[4]);
  s.successes = integer(row[5]);
  s.failures = integer(row[6]);
  s.last_status = text(row[7]);
  s.last_finished_at = optional_int(row[8]);
  s.schedule_override = text(row[9]);
  return s;
}

std::vector<RunRecord> read_runs(const PgRows& rows) {
  std::vector<RunRecord> out;
  out.reserve(rows.rows.size());
  for (const auto& row : rows.rows) out.push_back(read_run(row));
  return out;
}

// What a reader, a client or a daemon's connection is called in pg_stat_activity.
const char* mode_name(OpenMode mode) {
  switch (mode) {
    case OpenMode::kDaemon: return "daemon";
    case OpenMode::kReader: return "reader";
    case OpenMode::kClient: return "client";
    case OpenMode::kScratch: return "scratch";
  }
  return "client";
}

// Migrating under a running daemon would change the schema beneath it: readers and clients
// need the version this build knows (the wording of SqliteStore's open_client).
Status check_version(PgSession& session) {
  auto version = pg_state_version(session.raw());
  if (!version) return Status::error(version.message());
  const int known = static_cast<int>(pg_migrations().size());
  if (*version == known) return Status::ok();
  return Status::error("the state database " + session.url() + " is at schema version " + std::to_string(*version) +
                       ", this cronhost " +
                       (*version < known ? "needs " + std::to_string(known) +
                                               ": start the host once (cronhost run) to upgrade it"
                                         : "knows only " + std::to_string(known) + ": use the newer cronhost"));
}

}  // namespace

Result<std::unique_ptr<Store>> open_pg_store(const config::DatabaseSettings& settings, OpenMode mode,
                                             std::chrono::milliseconds lease) {
  using Opened = Result<std::unique_ptr<Store>>;
  if (mode == OpenMode::kScratch) return Opened::error("dry run against PostgreSQL state: not yet");
  config::DatabaseSettings connection = settings;
  connection.readonly = mode == OpenMode::kReader;
  if (mode == OpenMode::kDaemon) {
    PgSession migrator(connection, "migrate");
    if (auto connected = migrator.connect(); !connected) return Opened::error(connected.message());
    if (auto migrated = migrate_pg_state(migrator.raw()); !migrated)
      return Opened::error("state database " + settings.url + ": " + migrated.message());
  }
  auto session = std::make_unique<PgSession>(connection, mode_name(mode));
  if (auto connected = session->connect(); !connected) return Opened::error(connected.message());
  if (mode != OpenMode::kDaemon) {
    if (auto current = check_version(*session); !current) return Opened::error(current.message());
  }
  std::unique_ptr<PgStore> store(new PgStore(std::make_unique<PgWriter>(std::move(session))));
  if (mode == OpenMode::kDaemon) {
    store->me_ = new_host_identity(lease);
    try {
      store->heartbeat_ = std::make_unique<PgHeartbeat>(connection, store->me_, store->owned_, store->clock_.get());
    } catch (const std::exception& e) {
      return Opened::error("state database " + settings.url + ": cannot join its hosts: " + e.what());
    }
    log_event(spdlog::level::info, "joined the hosts of the state database",
              {{"host", store->me_.name}, {"id", store->me_.id}, {"lease_ms", lease.count()},
               {"clock_offset_ms", store->clock_offset_ms()}});
  }
  return std::unique_ptr<Store>(std::move(store));
}

// Queued runs nobody owns were claimed for the executors: wake them, in the claim's transaction
// (PostgreSQL delivers the NOTIFY at its commit, never for a claim rolled back).
static void announce_queued(PgSession& db, const std::vector<NewRun>& runs, const std::vector<ClaimResult>& claimed) {
  for (size_t i = 0; i < runs.size(); ++i)
    if (claimed[i].claimed() && runs[i].status == RunStatus::kQueued) {
      db.run(std::string("SELECT pg_notify('") + PgStore::kQueuedChannel + "', '')");
      return;
    }
}

PgStore::PgStore(std::unique_ptr<PgWriter> db) : db_(std::move(db)), clock_(std::make_unique<OffsetClock>()) {}

int64_t PgStore::clock_offset_ms() const { return clock_->offset_ms(); }

PgStore::~PgStore() {
  if (db_) db_->flush();
  if (heartbeat_ && db_) {  // a stopped host's definitions are no one's to compare with
    try {
      db_->call([this](PgSession& db) { db.run("DELETE FROM job_definitions WHERE host = $1", {param(me_.id)}); });
    } catch (const std::exception& e) {
      log_event(spdlog::level::warn, "cannot remove this host's job definitions", {{"error", e.what()}});
    }
  }
  heartbeat_.reset();
  db_.reset();
}

std::vector<int64_t> PgStore::take_lost_runs() {
  if (!heartbeat_) return {};
  return owned_.take_lost(std::chrono::steady_clock::now());
}

Result<std::vector<ClaimResult>> PgStore::claim_batch(const std::vector<NewRun>& runs) {
  try {
    // Claimed by this host: owned, fenced and leased from now on (no owner: a client's claim).
    const bool unowned = claims_unowned_.load();
    const ClaimOwner owner{me_.name, unowned ? "" : me_.id, me_.lease.count()};
    PgWriter& writer = *db_;
    auto ids = db_->call_alone([&runs, &owner, &writer](PgSession& db) {
      auto claimed = insert_claims(db, runs, owner, writer.tally());
      if (owner.id.empty()) announce_queued(db, runs, claimed);
      return claimed;
    });
    // Another claim had the row already (another host's, mostly): a conflict, for /metrics.
    conflicts_ += std::count_if(ids.begin(), ids.end(), [](const ClaimResult& r) { return !r.claimed(); });
    if (heartbeat_ && !unowned)  // owned from now on: renewed, fenced, stopped if the lease is lost
      for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i].claimed() && runs[i].status != RunStatus::kSkipped) owned_.add(ids[i].id, 1);
    return ids;
  } catch (const std::exception& e) {
    return Result<std::vector<ClaimResult>>::error(std::string("claiming slots in the state file failed: ") + e.what());
  }
}

Result<std::optional<int64_t>> PgStore::claim(const NewRun& run) {
  auto ids = claim_batch({run});
  if (!ids) return Result<std::optional<int64_t>>::error(ids.message());
  const ClaimResult& claimed = ids.value().front();
  return claimed.claimed() ? std::optional<int64_t>(claimed.id) : std::nullopt;
}

Status PgStore::set_role(const std::string& role) {
  claims_unowned_ = role == "scheduler";
  if (me_.id.empty()) return Status::ok();
  try {
    db_->call([this, &role](PgSession& db) {
      db.run("UPDATE hosts SET role = $1 WHERE id = $2", {param(role), param(me_.id)});
      return 0;
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error("state database: cannot record this host's role: " + std::string(e.what()));
  }
}

std::vector<RunRecord> PgStore::take_queued(int limit) {
  if (limit <= 0 || me_.id.empty()) return {};
  try {
    const PgRows rows = db_->call([this, limit](PgSession& db) {
      return db.run(std::string("UPDATE runs SET owner = $1, host = $2, fence = fence + 1, "
                                "lease_until = now() + $3::bigint * interval '1 millisecond' "
                                "WHERE id IN (SELECT id FROM runs WHERE status = 'queued' AND owner IS NULL "
                                "ORDER BY id LIMIT $4::bigint FOR UPDATE SKIP LOCKED) RETURNING ") +
                        kRunColumns + ", fence",
                    {param(me_.id), param(me_.name), param(int64_t{me_.lease.count()}), param(int64_t{limit})});
    });
    std::vector<RunRecord> taken;
    for (const PgRow& row : rows.rows) {
      taken.push_back(read_run(row));
      owned_.add(taken.back().id, integer(row[kRunColumnCount]));  // the fence  // renewed, fenced, stopped if the lease is lost
    }
    std::sort(taken.begin(), taken.end(), [](const RunRecord& a, const RunRecord& b) { return a.id < b.id; });
    return taken;
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "taking queued runs from the state database failed", {{"error", e.what()}});
    return {};
  }
}

// A daemon writes a run only as its owner with the fence of its claim ("AND owner = $o AND
// fence = $f"); other modes (and runs claimed before this host started) write it as before.
namespace {
struct RunGuard {
  std::optional<std::string> owner;
  int64_t fence = 0;
  std::string sql(int first) const {
    if (!owner) return "";
    return " AND owner = $" + std::to_string(first) + " AND fence = $" + std::to_string(first + 1) + "::bigint";
  }
  void add(std::vector<PgParam>& params) const {
    if (!owner) return;
    params.push_back(owner);
    params.push_back(param(fence));
  }
};
}  // namespace

void PgStore::mark_started(int64_t run_id, int64_t started_at, int64_t lateness_ms) {
  RunGuard guard;
  if (auto fence = owned_.fence(run_id)) guard = {me_.id, *fence};
  db_->post([run_id, started_at, lateness_ms, guard](PgSession& db) {
    std::vector<PgParam> params{param(started_at), param(lateness_ms), param(run_id)};
    guard.add(params);
    db.run("UPDATE runs SET status = 'running', started_at = $1::bigint, lateness_ms = $2::bigint "
           "WHERE id = $3::bigint AND status = 'queued'" + guard.sql(4),
           params);
  });
}

void PgStore::finish(int64_t run_id, const std::string& job, const RunOutcome& o) {
  RunGuard guard;
  if (auto fence = owned_.fence(run_id)) guard = {me_.id, *fence};
  owned_.remove(run_id);
  db_->post([this, run_id, job, o, guard](PgSession& db) {
    std::vector<PgParam> params{param(std::string(to_string(o.status))), param(o.finished_at), param(o.duration_ms),
                                script_text_or_null(o.result_json), script_text_or_null(o.error), script_text(o.output),
                                param_bool(o.output_truncated),
                                o.items ? param(o.items->processed) : std::nullopt,
                                o.items ? param(o.items->succeeded) : std::nullopt,
                                o.items ? param(o.items->failed) : std::nullopt, param(o.retry_at), param(run_id)};
    guard.add(params);
    const auto updated = db.run(
        "UPDATE runs SET status = $1, finished_at = $2::bigint, duration_ms = $3::bigint, result = $4, error = $5, "
        "output = $6, output_truncated = $7::boolean, items_processed = $8::bigint, items_succeeded = $9::bigint, "
        "items_failed = $10::bigint, retry_at = $11::bigint, lease_until = NULL WHERE id = $12::bigint" +
            std::string(guard.owner ? " AND status IN ('queued', 'running')" : "") + guard.sql(13),
        params);
    if (guard.owner && updated.affected == 0) {
      // Either an earlier try of this same write committed and only its reply was lost (ours,
      // same fence, final), or the run was reaped meanwhile: then the outcome, its kv writes
      // and the counters must not land.
      auto now = db.run("SELECT status, owner, fence, host FROM runs WHERE id = $1::bigint", {param(run_id)});
      if (!now.rows.empty() && text(now.rows[0][1]) == *guard.owner && integer(now.rows[0][2]) == guard.fence) return;
      ++refused_;
      log_event(spdlog::level::warn, "late completion refused",
                {{"run", run_id}, {"job", job}, {"fence", guard.fence}, {"host", me_.name},
                 {"status_now", now.rows.empty() ? "(deleted)" : text(now.rows[0][0])},
                 {"owner_now", now.rows.empty() ? "" : text(now.rows[0][1])}});
      return;
    }
    for (const KvWrite& write : o.kv_writes) {  // written at COMMIT, in key order (store/pg_kv_writes.hpp)
      if (write.value_json) db_->kv().put(job, write.key, *write.value_json, o.finished_at);
      else db_->kv().erase(job, write.key);
    }
    db_->tally().finished(job, o.status == RunStatus::kSucceeded, std::string(to_string(o.status)), o.finished_at);
  });
}

void PgStore::record_fire(const std::string& job, int64_t slot, std::optional<int64_t> next_fire) {
  db_->post([this, job, slot, next_fire](PgSession&) { db_->tally().fired(job, slot, next_fire); });
}

// The interface returns these without a Status (the SQLite store throws on failure): a
// failure is logged and reads as nothing found.
std::vector<RunRecord> PgStore::recover_unfinished(int64_t now) {
  // Other hosts' runs are alive or reaped after their lease, ours from an earlier start too
  // (a restart is a new owner): the reaper does this job on a shared database.
  if (heartbeat_) return {};
  try {
    return db_->call([now](PgSession& db) {
      auto found = read_runs(db.run(std::string("SELECT ") + kRunColumns +
                                    " FROM runs WHERE status IN ('queued', 'running') ORDER BY id FOR UPDATE"));
      db.run("UPDATE runs SET status = 'interrupted', finished_at = $1::bigint, "
             "duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE GREATEST(0, $1::bigint - started_at) END, "
             "error = 'the host stopped during the run' WHERE status IN ('queued', 'running')",
             {param(now)});
      for (auto& r : found) r.status = RunStatus::kInterrupted;
      return found;
    });
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "recovering unfinished runs from the state database failed", {{"error", e.what()}});
    return {};
  }
}

std::vector<RunRecord> PgStore::pending_retries() {
  try {
    return db_->call([](PgSession& db) {
      return read_runs(db.run(std::string("SELECT ") + kRunColumns +
                              " FROM runs WHERE retry_at IS NOT NULL ORDER BY retry_at, id"));
    });
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "reading pending retries from the state database failed", {{"error", e.what()}});
    return {};
  }
}

Status PgStore::set_retry(int64_t run_id, std::optional<int64_t> retry_at, const std::string& note) {
  // A run of ours: as its owner with its fence. Any other run (one whose pending retry is
  // dropped): only once it is over or no host owns it.
  std::string guard;
  std::vector<PgParam> params{param(retry_at), script_text(note), param(run_id)};
  if (heartbeat_) {
    params.push_back(me_.id);
    if (auto fence = owned_.fence(run_id)) {
      params.push_back(param(*fence));
      guard = " AND owner = $4 AND fence = $5::bigint";
    } else {
      guard = " AND (owner IS NULL OR owner = $4 OR status NOT IN ('queued', 'running'))";
    }
  }
  try {
    db_->call([&](PgSession& db) {
      db.run("UPDATE runs SET retry_at = $1::bigint, notes = CASE WHEN $2::text = '' THEN notes "
             "WHEN notes IS NULL OR notes = '' THEN $2::text ELSE notes || chr(10) || $2::text END WHERE id = $3::bigint" +
                 guard,
             params);
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

std::map<std::string, std::set<int64_t>> PgStore::claimed_slots(const std::vector<SlotsFrom>& jobs, int64_t to) {
  // In statements of a few thousand jobs: each well inside the session's statement timeout.
  constexpr size_t kJobsPerStatement = 5000;
  std::map<std::string, std::set<int64_t>> claimed;
  try {
    for (size_t first = 0; first < jobs.size(); first += kJobsPerStatement) {
      std::vector<PgParam> names, from;
      for (size_t i = first; i < std::min(jobs.size(), first + kJobsPerStatement); ++i) {
        names.push_back(param(jobs[i].job));
        from.push_back(param(jobs[i].from));
      }
      const PgRows rows = db_->call([&](PgSession& db) {
        return db.run("SELECT r.job, r.scheduled_for FROM unnest($1::text[], $2::bigint[]) AS u(job, from_ms) "
                      "JOIN runs r ON r.job = u.job AND r.scheduled_for BETWEEN u.from_ms AND $3::bigint "
                      "WHERE r.attempt = 1 AND r.trigger IN ('schedule', 'catchup', 'retry')",
                      {array(names), array(from), param(to)});
      });
      for (const auto& row : rows.rows) claimed[text(row[0])].insert(integer(row[1]));
    }
    return claimed;
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "reading claimed slots from the state database failed", {{"error", e.what()}});
    return claimed;  // what was read before the failure
  }
}

// Unlike the reads above, a failure throws: the start fails rather than take every job for
// new (its catch-up lost, its position moved to now).
std::vector<LastSlot> PgStore::last_slots() {
  return db_->call([](PgSession& db) {
    std::vector<LastSlot> out;
    for (const auto& row : db.run("SELECT job, last_slot FROM job_state WHERE last_slot IS NOT NULL").rows)
      out.push_back({text(row[0]), integer(row[1])});
    return out;
  });
}

int64_t PgStore::prune(const Retention& retention, int64_t now, const std::function<bool()>& keep_going) {
  const auto changed_rows = [this](const char* sql, std::vector<PgParam> params) {
    return db_->call([&](PgSession& db) { return db.run(sql, params).affected; });
  };
  HistoryPruneSteps steps;
  steps.delete_finished_before = [&](int64_t before, int limit) {
    return changed_rows("DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE finished_at < $1::bigint LIMIT $2::int)",
                        {param(before), param(int64_t{limit})});
  };
  // Up to $2 jobs after $1 in the table's index by job, one index seek each (a loose index
  // scan: PostgreSQL 15 does not skip through an index by itself).
  const auto jobs_after_sql = [](const std::string& table) {
    return "WITH RECURSIVE j(job, n) AS (SELECT min(job), 1 FROM " + table + " WHERE job > $1 UNION ALL "
           "SELECT (SELECT min(job) FROM " + table + " WHERE job > j.job), n + 1 FROM j WHERE j.job IS NOT NULL "
           "AND n < $2::int) SELECT job FROM j WHERE job IS NOT NULL";
  };
  steps.jobs_after = [&](const std::string& after, int keep, int count) {
    const PgRows rows = db_->call([&](PgSession& db) {
      return db.run("SELECT job, (SELECT id FROM runs r WHERE r.job = jobs.job ORDER BY id DESC OFFSET $3::int LIMIT 1) "
                    "FROM (" + jobs_after_sql("runs") + ") AS jobs ORDER BY job",
                    {param(after), param(int64_t{count}), param(int64_t{keep})});
    });
    std::vector<JobCutoff> jobs;
    for (const PgRow& row : rows.rows)
      jobs.push_back({text(row[0]), row[1] ? std::optional(integer(row[1])) : std::nullopt});
    return jobs;
  };
  steps.delete_finished_of_job = [&](const std::string& job, int64_t last, int limit) {
    return changed_rows("DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE job = $1 AND id <= $2::bigint "
                        "AND finished_at IS NOT NULL LIMIT $3::int)",
                        {param(job), param(last), param(int64_t{limit})});
  };
  steps.notified_jobs_after = [&](const std::string& after, int keep, int count) {
    const PgRows rows = db_->call([&](PgSession& db) {
      return db.run("SELECT jobs.job, c.at, c.id FROM (" + jobs_after_sql("notifications") + ") AS jobs LEFT JOIN "
                    "LATERAL (SELECT at, id FROM notifications n WHERE n.job = jobs.job AND $3::int > 0 "
                    "ORDER BY at DESC, id DESC OFFSET $3::int LIMIT 1) AS c ON true ORDER BY jobs.job",
                    {param(after), param(int64_t{count}), param(int64_t{keep})});
    });
    std::vector<NotifiedJob> jobs;
    for (const PgRow& row : rows.rows)
      jobs.push_back({text(row[0]), row[1] ? std::optional(integer(row[1])) : std::nullopt,
                      row[2] ? std::optional(integer(row[2])) : std::nullopt});
    return jobs;
  };
  steps.delete_notifications_of = [&](const NotifiedJob& job, std::optional<int64_t> before, int limit) {
    return changed_rows("DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE job = $1 AND "
                        "(at < $2::bigint OR (at, id) <= ($3::bigint, $4::bigint)) AND id NOT IN (SELECT max(id) FROM "
                        "notifications WHERE job = $1 GROUP BY event) LIMIT $5::int)",
                        {param(job.job), param(before), param(job.last_at), param(job.last_id), param(int64_t{limit})});
  };
  int64_t removed = 0;
  try {
    removed = prune_history(retention, now, steps, keep_going);
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "pruning runs in the state database failed", {{"error", e.what()}});
  }
  return removed;
}

std::optional<JobState> PgStore::job_state(const std::string& job) { return job_states(std::vector{job}).front(); }

std::vector<std::optional<JobState>> PgStore::job_states(const std::vector<std::string>& jobs) {
  try {
    return db_->call([&jobs](PgSession& db) {
      std::vector<std::optional<JobState>> out;
      out.reserve(jobs.size());
      for (const auto& job : jobs) {
        auto rows = db.run(std::string("SELECT ") + kJobStateColumns + " FROM job_state WHERE job = $1", {param(job)});
        out.push_back(rows.rows.empty() ? std::nullopt : std::optional(read_job_state(rows.rows[0])));
      }
      return out;
    });
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "reading job states from the state database failed", {{"error", e.what()}});
    return std::vector<std::optional<JobState>>(jobs.size());
  }
}

std::vector<JobState> PgStore::job_states() { return job_states_where(""); }

std::vector<JobState> PgStore::finished_job_states() {
  return job_states_where(" WHERE last_finished_at IS NOT NULL");
}

std::vector<JobState> PgStore::job_states_where(const char* where) {
  try {
    return db_->call([where](PgSession& db) {
      std::vector<JobState> out;
      for (const auto& row :
           db.run(std::string("SELECT ") + kJobStateColumns + " FROM job_state" + where + " ORDER BY job").rows)
        out.push_back(read_job_state(row));
      return out;
    });
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "reading job states from the state database failed", {{"error", e.what()}});
    return {};
  }
}

std::vector<RunRecord> PgStore::runs(const RunQuery& query) {
  try {
    return db_->call([&query](PgSession& db) {
      std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1 = 1";
      std::vector<PgParam> params;
      const auto next = [&params](PgParam value, const char* cast) {
        params.push_back(std::move(value));
        return "$" + std::to_string(params.size()) + cast;
      };
      if (!query.job.empty()) sql += " AND job = " + next(param(query.job), "");
      if (query.status) sql += " AND status = " + next(param(std::string(to_string(*query.status))), "");
      if (query.before_id) sql += " AND id < " + next(param(*query.before_id), "::bigint");
      if (query.since) sql += " AND scheduled_for >= " + next(param(*query.since), "::bigint");
      if (query.attempts_of) {
        const std::string first = next(param(*query.attempts_of), "::bigint");
        sql += " AND id >= " + first + " AND (id = " + first + " OR first_run_id = " + first + ")";
      }
      sql += " ORDER BY id DESC LIMIT " + next(param(int64_t{query.limit}), "::bigint");
      return read_runs(db.run(sql, params));
    });
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "reading runs from the state database failed", {{"error", e.what()}});
    return {};
  }
}

std::vector<std::vector<RunBrief>> PgStore::recent_runs(const std::vector<std::string>& jobs, int per_job) {
  try {
    return db_->call([&jobs, per_job](PgSession& db) {
      std::vector<std::vector<RunBrief>> out(jobs.size());
      for (size_t i = 0; i < jobs.size(); ++i) {  // per job: each reads its newest rows by (job, id)
        const auto rows = db.run(
            "SELECT id, status, trigger, attempt, scheduled_for, started_at, finished_at, duration_ms FROM runs "
            "WHERE job = $1 ORDER BY id DESC LIMIT $2::bigint",
            {param(jobs[i]), param(int64_t{per_job})});
        for (const auto& row : rows.rows) {
          RunBrief r;
          r.id = integer(row[0]);
          r.status = parse_status(text(row[1])).value_or(RunStatus::kQueued);
          r.trigger = parse_trigger(text(row[2])).value_or(Trigger::kSchedule);
          r.attempt = static_cast<int>(integer(row[3]));
          r.scheduled_for = integer(row[4]);
          r.started_at = optional_int(row[5]);
          r.finished_at = optional_int(row[6]);
          r.duration_ms = optional_int(row[7]);
          out[i].push_back(r);
        }
      }
      return out;
    });
  } catch (const std::exception& e) {
    spdlog::error("reading recent runs from the state database failed: {}", e.what());
    return std::vector<std::vector<RunBrief>>(jobs.size());
  }
}

std::optional<RunRecord> PgStore::run(int64_t id) {
  try {
    return db_->call([id](PgSession& db) -> std::optional<RunRecord> {
      auto rows = db.run(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = $1::bigint", {param(id)});
      if (rows.rows.empty()) return std::nullopt;
      return read_run(rows.rows[0]);
    });
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "reading a run from the state database failed", {{"run", id}, {"error", e.what()}});
    return std::nullopt;
  }
}

Result<std::optional<std::string>> PgStore::kv_get(const std::string& job, const std::string& key) {
  try {
    return db_->call([&](PgSession& db) -> std::optional<std::string> {
      auto rows = db.run("SELECT value FROM kv WHERE job = $1 AND key = $2", {param(job), param(key)});
      if (rows.rows.empty()) return std::nullopt;
      return text(rows.rows[0][0]);
    });
  } catch (const std::exception& e) {
    return Result<std::optional<std::string>>::error(e.what());
  }
}

Status PgStore::kv_put(const std::string& job, const std::string& key, const std::string& json, int64_t now) {
  try {
    db_->call([&](PgSession&) { db_->kv().put(job, key, json, now); });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

Status PgStore::kv_delete(const std::string& job, const std::string& key) {
  try {
    db_->call([&](PgSession&) { db_->kv().erase(job, key); });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

void PgStore::flush() { db_->flush(); }

WriteHealth PgStore::write_health() const { return db_->health(); }

}  // namespace cronhost::store
