#include "store/sqlite_store.hpp"

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include "store/column_values.hpp"
#include "store/db_thread.hpp"
#include "store/history_prune.hpp"
#include "store/host_lock.hpp"
#include "store/migrations.hpp"
#include "store/wal_write_vfs.hpp"

namespace cronhost::store {
namespace {

namespace fs = std::filesystem;

// PRAGMAs for every connection. synchronous=NORMAL in WAL mode survives a crash of the
// process (kill -9); a power cut may lose the last commits. busy_timeout lets readers such as
// `cronhost history` wait out a checkpoint instead of failing.
void configure(SQLite::Database& db, bool writer) {
  db.exec("PRAGMA busy_timeout = 5000");
  if (writer) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    // 64 MiB of page cache keeps the runs indexes hot: with the 2 MiB default, lateness at
    // 10,000 runs/s grew from ~5 ms to ~60 ms (median) as the table passed 500,000 rows.
    db.exec("PRAGMA cache_size = -65536");
    // A WAL that restarts is cut back to 48 MiB, not left at a peak: above the 32 MiB at which
    // the writer restarts it (store/wal_checkpointer.hpp), so the file is reused as it is
    // rather than shortened and grown again block by block.
    db.exec("PRAGMA journal_size_limit = 50331648");
  }
  db.exec("PRAGMA foreign_keys = ON");
}

// SQLite counts the memory it holds under a global lock, at each of its allocations (several
// per statement). Nothing here reads the counts. Only possible before SQLite's first use in the
// process; later it is refused and nothing changes.
void skip_sqlite_memory_counts() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

void migrate(SQLite::Database& db) {
  const int current = db.execAndGet("PRAGMA user_version").getInt();
  const auto& all = migrations();
  if (current > static_cast<int>(all.size()))
    throw std::runtime_error("the state file is from a newer cronhost (schema version " + std::to_string(current) +
                             ", this build knows " + std::to_string(all.size()) + ")");
  for (size_t i = static_cast<size_t>(current); i < all.size(); ++i) {
    SQLite::Transaction transaction(db);
    db.exec(std::string(all[i]));
    // A migration that rewrites the schema's text (014) leaves the cookie where it was; other
    // connections read the schema again only when it moves on (DDL moves it by itself).
    const int cookie = db.execAndGet("PRAGMA schema_version").getInt();
    db.exec("PRAGMA schema_version = " + std::to_string(cookie + 1));
    db.exec("PRAGMA user_version = " + std::to_string(i + 1));
    transaction.commit();
  }
}

// The key of runs_by_finish (migration 016): when a run finished, unfinished runs last. A query
// must spell it alike for SQLite to read that index.
#define CRONHOST_FINISH_KEY "ifnull(finished_at, 9223372036854775807)"
constexpr const char* kUnfinished = CRONHOST_FINISH_KEY " = 9223372036854775807 AND status IN ('queued', 'running')";

constexpr const char* kRunColumns =
    "id, job, trigger, scheduled_for, attempt, first_run_id, status, started_at, finished_at, duration_ms, "
    "lateness_ms, result, error, output, output_truncated, notes, triggered_by, items_processed, items_succeeded, "
    "items_failed, params, retry_at, event";

RunRecord read_run(SQLite::Statement& q) {
  RunRecord r;
  r.id = q.getColumn(0).getInt64();
  r.job = q.getColumn(1).getString();
  r.trigger = parse_trigger(q.getColumn(2).getString()).value_or(Trigger::kSchedule);
  r.scheduled_for = q.getColumn(3).getInt64();
  r.attempt = q.getColumn(4).getInt();
  r.first_run_id = optional_int(q.getColumn(5));
  r.status = parse_status(q.getColumn(6).getString()).value_or(RunStatus::kQueued);
  r.started_at = optional_int(q.getColumn(7));
  r.finished_at = optional_int(q.getColumn(8));
  r.duration_ms = optional_int(q.getColumn(9));
  r.lateness_ms = optional_int(q.getColumn(10));
  r.result_json = text(q.getColumn(11));
  r.error = text(q.getColumn(12));
  r.output = text(q.getColumn(13));
  r.output_truncated = q.getColumn(14).getInt() != 0;
  r.notes = text(q.getColumn(15));
  r.triggered_by = text(q.getColumn(16));
  if (!q.getColumn(17).isNull())
    r.items = RunItems{q.getColumn(17).getInt64(), q.getColumn(18).getInt64(), q.getColumn(19).getInt64()};
  r.params_json = text(q.getColumn(20));
  r.retry_at = optional_int(q.getColumn(21));
  r.event_json = text(q.getColumn(22));
  return r;
}

JobState read_job_state(SQLite::Statement& q) {
  JobState s;
  s.job = q.getColumn(0).getString();
  if (!q.getColumn(1).isNull()) s.enabled_override = q.getColumn(1).getInt() != 0;
  s.last_slot = optional_int(q.getColumn(2));
  s.next_fire = optional_int(q.getColumn(3));
  s.runs = q.getColumn(4).getInt64();
  s.successes = q.getColumn(5).getInt64();
  s.failures = q.getColumn(6).getInt64();
  s.last_status = text(q.getColumn(7));
  s.last_finished_at = optional_int(q.getColumn(8));
  s.schedule_override = text(q.getColumn(9));
  return s;
}

constexpr const char* kJobStateColumns =
    "job, enabled_override, last_slot, next_fire, runs, successes, failures, last_status, last_finished_at, "
    "schedule_override";

// Between batches the writer truncates a WAL past 64 MiB (store/db_thread.hpp): under load
// the WAL grew ~300 KB/s until the disk was full (issue 11), the automatic checkpoint alone
// could not restart it. It normally restarts at 32 MiB (store/wal_checkpointer.hpp).
constexpr uint64_t kWalLimitBytes = uint64_t{64} << 20;

}  // namespace

SqliteStore::SqliteStore(std::unique_ptr<DbThread> db, int lock_fd) : db_(std::move(db)), lock_fd_(lock_fd) {}

SqliteStore::~SqliteStore() {
  // Queued writes run while db_ still points at the thread (they prepare statements through
  // it); reset() alone would null db_ first, then drain.
  if (db_) db_->flush();
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Store>> Store::open(const fs::path& path) {
  auto lock = lock_state_file(path);
  if (!lock) return Result<std::unique_ptr<Store>>::error(lock.message());
  skip_sqlite_memory_counts();
  try {
    // The database thread alone uses this connection: SQLite's lock per call is not needed.
    // Its WAL frames go out one write per transaction (store/wal_write_vfs.hpp).
    auto db = std::make_unique<SQLite::Database>(
        path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLITE_OPEN_NOMUTEX, 0, wal_write_vfs());
    configure(*db, true);
    migrate(*db);
    DbThread::Limits limits;
    limits.wal_limit_bytes = kWalLimitBytes;
    limits.checkpoint_in_background = true;
    return std::unique_ptr<Store>(new SqliteStore(std::make_unique<DbThread>(std::move(db), true, limits), *lock));
  } catch (const std::exception& e) {
    ::close(*lock);
    return Result<std::unique_ptr<Store>>::error("state file " + path.string() + ": " + e.what());
  }
}

Result<std::unique_ptr<Store>> Store::open_readonly(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Result<std::unique_ptr<Store>>::error("no state file at " + path.string() + " (has the host run yet?)");
  try {
    auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READONLY);
    configure(*db, false);
    return std::unique_ptr<Store>(new SqliteStore(std::make_unique<DbThread>(std::move(db), false), -1));
  } catch (const std::exception& e) {
    return Result<std::unique_ptr<Store>>::error("state file " + path.string() + ": " + e.what());
  }
}

Result<std::unique_ptr<Store>> Store::open_client(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Result<std::unique_ptr<Store>>::error("no state file at " + path.string() + " (has the host run yet?)");
  try {
    auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READWRITE);
    configure(*db, false);  // the file is already in WAL mode: the daemon set it
    const int version = db->execAndGet("PRAGMA user_version").getInt();
    const int known = static_cast<int>(migrations().size());
    // Migrating under a running daemon would change the schema beneath it; the daemon
    // migrates when it starts.
    if (version != known)
      return Result<std::unique_ptr<Store>>::error(
          "the state file " + path.string() + " is at schema version " + std::to_string(version) + ", this cronhost " +
          (version < known ? "needs " + std::to_string(known) + ": start the host once (cronhost run) to upgrade it"
                           : "knows only " + std::to_string(known) + ": use the newer cronhost"));
    // Not transactional: each write opens its own BEGIN IMMEDIATE (store/sqlite_approvals.cpp), which
    // waits for the daemon's write lock instead of failing on a snapshot the daemon moved on from.
    return std::unique_ptr<Store>(new SqliteStore(std::make_unique<DbThread>(std::move(db), false), -1));
  } catch (const std::exception& e) {
    return Result<std::unique_ptr<Store>>::error("state file " + path.string() + ": " + e.what());
  }
}

Result<std::unique_ptr<Store>> Store::open_scratch_copy(const fs::path& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    std::error_code ec;
    if (fs::exists(path, ec)) {
      SQLite::Database source(path.string(), SQLite::OPEN_READONLY);
      source.exec("PRAGMA busy_timeout = 5000");
      SQLite::Backup backup(*db, source);
      backup.executeStep();
    }
    migrate(*db);
    return std::unique_ptr<Store>(new SqliteStore(std::make_unique<DbThread>(std::move(db), true), -1));
  } catch (const std::exception& e) {
    return Result<std::unique_ptr<Store>>::error("state file " + path.string() + ": " + e.what());
  }
}

Result<std::unique_ptr<Store>> SqliteStore::open_seeded_scratch(const std::function<void(SQLite::Database&)>& seed) {
  try {
    auto db = std::make_unique<SQLite::Database>(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(*db);
    seed(*db);
    return std::unique_ptr<Store>(new SqliteStore(std::make_unique<DbThread>(std::move(db), true), -1));
  } catch (const std::exception& e) {
    return Result<std::unique_ptr<Store>>::error(std::string("dry-run state: ") + e.what());
  }
}

// One host owns the file (its lock), so an exclusive run is never busy elsewhere here.
Result<std::vector<ClaimResult>> SqliteStore::claim_batch(const std::vector<NewRun>& runs) {
  try {
    return db_->call([this, &runs](SQLite::Database& db) {
      std::vector<ClaimResult> ids;
      ids.reserve(runs.size());
      for (const NewRun& run : runs) {
        SQLite::Statement& q = db_->statement(
            "INSERT OR IGNORE INTO runs (job, trigger, scheduled_for, attempt, first_run_id, status, queued_at, "
            "started_at, lateness_ms, error, finished_at, duration_ms, triggered_by, params, event, event_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        const bool skipped = run.status == RunStatus::kSkipped;
        const bool started = run.status != RunStatus::kQueued;
        q.bind(1, run.job);
        q.bind(2, std::string(to_string(run.trigger)));
        q.bind(3, run.scheduled_for);
        q.bind(4, run.attempt);
        if (run.first_run_id) q.bind(5, *run.first_run_id);
        q.bind(6, std::string(to_string(run.status)));
        q.bind(7, run.started_at);
        if (started) {
          q.bind(8, run.started_at);
          q.bind(9, run.lateness_ms);
        }
        if (!run.error.empty()) q.bind(10, run.error);
        if (skipped) {
          q.bind(11, run.started_at);
          q.bind(12, 0);
        }
        if (!run.triggered_by.empty()) q.bind(13, run.triggered_by);
        if (!run.params_json.empty()) q.bind(14, run.params_json);
        if (!run.event_json.empty()) q.bind(15, run.event_json);
        if (run.event_id) q.bind(16, *run.event_id);
        if (q.exec() == 0) {
          ids.push_back({ClaimResult::Kind::kAlreadyRan});
          continue;
        }
        ids.push_back({ClaimResult::Kind::kClaimed, db.getLastInsertRowid()});
        if (run.retry_of) {  // the pending retry is taken, in the same transaction as its claim
          SQLite::Statement& t = db_->statement("UPDATE runs SET retry_at = NULL WHERE id = ?");
          t.bind(1, *run.retry_of);
          t.exec();
        }
        if (run.event_id) {  // delivered with its run, in one transaction
          SQLite::Statement& e = db_->statement("UPDATE events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL");
          e.bind(1, run.started_at);
          e.bind(2, *run.event_id);
          e.exec();
        }
        if (run.record_slot) upsert_last_slot(run.job, run.record_position.value_or(run.scheduled_for), run.next_fire);
        if (skipped) {
          SQLite::Statement& s = db_->statement(
              "INSERT INTO job_state (job, last_status, last_finished_at) VALUES (?, 'skipped', ?) ON CONFLICT (job) "
              "DO UPDATE SET last_status = 'skipped', last_finished_at = excluded.last_finished_at");
          s.bind(1, run.job);
          s.bind(2, run.started_at);
          s.exec();
        }
      }
      return ids;
    });
  } catch (const std::exception& e) {
    return Result<std::vector<ClaimResult>>::error(std::string("claiming slots in the state file failed: ") + e.what());
  }
}

Result<std::optional<int64_t>> SqliteStore::claim(const NewRun& run) {
  auto ids = claim_batch({run});
  if (!ids) return Result<std::optional<int64_t>>::error(ids.message());
  const ClaimResult& claimed = ids.value().front();
  return claimed.claimed() ? std::optional<int64_t>(claimed.id) : std::nullopt;
}

void SqliteStore::mark_started(int64_t run_id, int64_t started_at, int64_t lateness_ms) {
  {
    std::lock_guard lock(starts_mutex_);
    pending_starts_[run_id] = {started_at, lateness_ms};
  }
  // Taken once and kept: a batch whose commit fails runs again later (db_thread.cpp), and
  // from then on this write is the only one holding the start.
  db_->post([this, run_id, start = std::optional<PendingStart>()](SQLite::Database&) mutable {
    if (!start) start = take_pending_start(run_id);
    if (!start) return;  // its finish took it
    SQLite::Statement& q =
        db_->statement("UPDATE runs SET status = 'running', started_at = ?, lateness_ms = ? WHERE id = ? AND status = 'queued'");
    q.bind(1, start->started_at);
    q.bind(2, start->lateness_ms);
    q.bind(3, run_id);
    q.exec();
  });
}

std::optional<SqliteStore::PendingStart> SqliteStore::take_pending_start(int64_t run_id) {
  std::lock_guard lock(starts_mutex_);
  auto it = pending_starts_.find(run_id);
  if (it == pending_starts_.end()) return std::nullopt;
  const PendingStart start = it->second;
  pending_starts_.erase(it);
  return start;
}

// Inside a task only (the connection held).
void SqliteStore::upsert_last_slot(const std::string& job, int64_t slot, std::optional<int64_t> next_fire) {
  SQLite::Statement& q = db_->statement(
      "INSERT INTO job_state (job, last_slot, next_fire) VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE "
      "SET last_slot = max(coalesce(last_slot, 0), excluded.last_slot), next_fire = excluded.next_fire");
  q.bind(1, job);
  q.bind(2, slot);
  if (next_fire) q.bind(3, *next_fire);
  q.exec();
}

// Inside a task only (the connection held).
void SqliteStore::apply_kv_write(const std::string& job, const KvWrite& write, int64_t now) {
  if (!write.value_json) {
    SQLite::Statement& q = db_->statement("DELETE FROM kv WHERE job = ? AND key = ?");
    q.bind(1, job);
    q.bind(2, write.key);
    q.exec();
    return;
  }
  SQLite::Statement& q = db_->statement("INSERT OR REPLACE INTO kv (job, key, value, updated_at) VALUES (?, ?, ?, ?)");
  q.bind(1, job);
  q.bind(2, write.key);
  q.bind(3, *write.value_json);
  q.bind(4, now);
  q.exec();
}

void SqliteStore::finish(int64_t run_id, const std::string& job, const RunOutcome& o) {
  // Taken here, not on the database thread: the start's own write is queued before this one.
  const auto start = take_pending_start(run_id);
  db_->post([this, run_id, job, o, start](SQLite::Database&) {
    SQLite::Statement& q = db_->statement(
        "UPDATE runs SET status = ?, finished_at = ?, duration_ms = ?, result = ?, error = ?, output = ?, "
        "output_truncated = ?, items_processed = ?, items_succeeded = ?, items_failed = ?, retry_at = ?, "
        "started_at = coalesce(?, started_at), lateness_ms = coalesce(?, lateness_ms) WHERE id = ?");
    q.bind(1, std::string(to_string(o.status)));
    q.bind(2, o.finished_at);
    q.bind(3, o.duration_ms);
    if (!o.result_json.empty()) q.bind(4, o.result_json);
    if (!o.error.empty()) q.bind(5, o.error);
    q.bind(6, o.output);
    q.bind(7, o.output_truncated ? 1 : 0);
    if (o.items) {
      q.bind(8, o.items->processed);
      q.bind(9, o.items->succeeded);
      q.bind(10, o.items->failed);
    }
    if (o.retry_at) q.bind(11, *o.retry_at);
    if (start) {
      q.bind(12, start->started_at);
      q.bind(13, start->lateness_ms);
    }
    q.bind(14, run_id);
    q.exec();
    for (const KvWrite& write : o.kv_writes) apply_kv_write(job, write, o.finished_at);
    const bool ok = o.status == RunStatus::kSucceeded;
    SQLite::Statement& s = db_->statement(
        "INSERT INTO job_state (job, runs, successes, failures, last_status, last_finished_at) "
        "VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET runs = runs + 1, "
        "successes = successes + excluded.successes, failures = failures + excluded.failures, "
        "last_status = excluded.last_status, last_finished_at = excluded.last_finished_at");
    s.bind(1, job);
    s.bind(2, ok ? 1 : 0);
    s.bind(3, ok ? 0 : 1);
    s.bind(4, std::string(to_string(o.status)));
    s.bind(5, o.finished_at);
    s.exec();
  });
}

void SqliteStore::record_fire(const std::string& job, int64_t slot, std::optional<int64_t> next_fire) {
  db_->post([this, job, slot, next_fire](SQLite::Database&) { upsert_last_slot(job, slot, next_fire); });
}

std::vector<RunRecord> SqliteStore::recover_unfinished(int64_t now) {
  return db_->call([now](SQLite::Database& db) {
    std::vector<RunRecord> found;
    SQLite::Statement q(db, std::string("SELECT ") + kRunColumns + " FROM runs WHERE " + kUnfinished + " ORDER BY id");
    while (q.executeStep()) found.push_back(read_run(q));
    SQLite::Statement u(db, std::string("UPDATE runs SET status = 'interrupted', finished_at = ?, "
                                        "duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE max(0, ? - started_at) END, "
                                        "error = 'the host stopped during the run' WHERE ") +
                                kUnfinished);
    u.bind(1, now);
    u.bind(2, now);
    u.exec();
    for (auto& r : found) r.status = RunStatus::kInterrupted;
    return found;
  });
}

std::vector<RunRecord> SqliteStore::pending_retries() {
  return db_->call([](SQLite::Database& db) {
    std::vector<RunRecord> found;
    SQLite::Statement q(db, std::string("SELECT ") + kRunColumns + " FROM runs WHERE retry_at IS NOT NULL ORDER BY retry_at, id");
    while (q.executeStep()) found.push_back(read_run(q));
    return found;
  });
}

Status SqliteStore::set_retry(int64_t run_id, std::optional<int64_t> retry_at, const std::string& note) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db,
                          "UPDATE runs SET retry_at = ?, notes = CASE WHEN ? = '' THEN notes "
                          "WHEN notes IS NULL OR notes = '' THEN ? ELSE notes || char(10) || ? END WHERE id = ?");
      if (retry_at) q.bind(1, *retry_at);
      for (int i : {2, 3, 4}) q.bind(i, note);
      q.bind(5, run_id);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

// Each job's runs newest first (runs_by_job), until its first scheduled fire of a slot before
// `from`: a job's scheduled fires are claimed in the order of their slots, so the older runs
// hold no slot at or after `from` but catch-ups and retries, which are claimed late and are
// passed over. (Not the claim's time: a clock stepped back would end the look early.)
// runs_slot leads with the slot's time (migration 013), so it cannot find one job's slots; a
// range of it from a daily job's last slot would hold every other job's runs since. The slot's
// triggers are comparisons, not an IN list: a list is a temporary b-tree per job read (014).
std::map<std::string, std::set<int64_t>> SqliteStore::claimed_slots(const std::vector<SlotsFrom>& jobs, int64_t to) {
  if (jobs.empty()) return {};
  return db_->call([&](SQLite::Database& db) {
    std::map<std::string, std::set<int64_t>> claimed;
    SQLite::Statement q(db,
                        "SELECT scheduled_for, trigger = 'schedule', attempt = 1 AND (trigger = 'schedule' OR "
                        "trigger = 'catchup' OR trigger = 'retry') FROM runs WHERE job = ? ORDER BY id DESC");
    for (const SlotsFrom& job : jobs) {
      q.bind(1, job.job);
      while (q.executeStep()) {
        const int64_t slot = q.getColumn(0).getInt64();
        if (q.getColumn(1).getInt() && slot < job.from) break;
        if (q.getColumn(2).getInt() && slot >= job.from && slot <= to) claimed[job.job].insert(slot);
      }
      q.reset();
    }
    return claimed;
  });
}

std::vector<LastSlot> SqliteStore::last_slots() {
  return db_->call([](SQLite::Database& db) {
    std::vector<LastSlot> out;
    SQLite::Statement q(db, "SELECT job, last_slot FROM job_state WHERE last_slot IS NOT NULL");
    while (q.executeStep()) out.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt64()});
    return out;
  });
}

int64_t SqliteStore::prune(const Retention& retention, int64_t now, const std::function<bool()>& keep_going) {
  const auto changed_rows = [this](const char* sql, const auto&... values) {
    return db_->call([&](SQLite::Database&) -> int64_t {
      SQLite::Statement& q = db_->statement(sql);
      int i = 0;
      (bind_or_null(q, ++i, values), ...);
      const int64_t changed = q.exec();
      q.reset();
      return changed;
    });
  };
  HistoryPruneSteps steps;
  steps.delete_finished_before = [&](int64_t before, int limit) {
    return changed_rows("DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE " CRONHOST_FINISH_KEY " < ? LIMIT ?)",
                        before, limit);
  };
  // Up to `count` jobs after `after` in name order, each handed to `visit`: one seek apiece in
  // the table's index by job (runs_by_job, notifications_by_job). Inside a task (the connection held).
  const auto each_job_after = [this](const char* next_sql, const std::string& after, int count, const auto& visit) {
    SQLite::Statement& next = db_->statement(next_sql);
    std::string job = after;
    for (int seen = 0; seen < count; ++seen) {
      next.bind(1, job);
      const bool found = next.executeStep() && !next.getColumn(0).isNull();
      if (found) job = next.getColumn(0).getString();
      next.reset();
      if (!found) return;
      visit(job);
    }
  };
  steps.jobs_after = [&](const std::string& after, int keep, int count) {
    return db_->call([&](SQLite::Database&) {
      SQLite::Statement& cutoff = db_->statement("SELECT id FROM runs WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?");
      std::vector<JobCutoff> jobs;
      each_job_after("SELECT min(job) FROM runs WHERE job > ?", after, count, [&](const std::string& job) {
        cutoff.bind(1, job);
        cutoff.bind(2, keep);
        jobs.push_back({job, cutoff.executeStep() ? std::optional(cutoff.getColumn(0).getInt64()) : std::nullopt});
        cutoff.reset();
      });
      return jobs;
    });
  };
  steps.delete_finished_of_job = [&](const std::string& job, int64_t last, int limit) {
    return changed_rows("DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE job = ? AND id <= ? AND "
                        "finished_at IS NOT NULL LIMIT ?)",
                        job, last, limit);
  };
  steps.notified_jobs_after = [&](const std::string& after, int keep, int count) {
    return db_->call([&](SQLite::Database&) {
      SQLite::Statement& cutoff =
          db_->statement("SELECT at, id FROM notifications WHERE job = ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?");
      std::vector<NotifiedJob> jobs;
      each_job_after("SELECT min(job) FROM notifications WHERE job > ?", after, count, [&](const std::string& job) {
        NotifiedJob& notified = jobs.emplace_back(NotifiedJob{job, std::nullopt, std::nullopt});
        if (keep <= 0) return;
        cutoff.bind(1, job);
        cutoff.bind(2, keep);
        if (cutoff.executeStep()) {
          notified.last_at = cutoff.getColumn(0).getInt64();
          notified.last_id = cutoff.getColumn(1).getInt64();
        }
        cutoff.reset();
      });
      return jobs;
    });
  };
  steps.delete_notifications_of = [&](const NotifiedJob& job, std::optional<int64_t> before, int limit) {
    return changed_rows("DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE job = ?1 AND "
                        "(at < ?2 OR at < ?3 OR (at = ?3 AND id <= ?4)) AND id NOT IN (SELECT max(id) FROM "
                        "notifications WHERE job = ?1 GROUP BY event) LIMIT ?5)",
                        job.job, before, job.last_at, job.last_id, limit);
  };
  return prune_history(retention, now, steps, keep_going);
}

// Prepared once per connection (the API asks for one job's state thousands of times a second).
const std::string kJobStateSql = std::string("SELECT ") + kJobStateColumns + " FROM job_state WHERE job = ?";

std::optional<JobState> SqliteStore::job_state(const std::string& job) { return job_states({job}).front(); }

std::vector<std::optional<JobState>> SqliteStore::job_states(const std::vector<std::string>& jobs) {
  return db_->call([this, &jobs](SQLite::Database&) {
    std::vector<std::optional<JobState>> out;
    out.reserve(jobs.size());
    for (const auto& job : jobs) {
      SQLite::Statement& q = db_->statement(kJobStateSql.c_str());
      q.bind(1, job);
      out.push_back(q.executeStep() ? std::optional(read_job_state(q)) : std::nullopt);
      q.reset();  // an active statement would hold its read snapshot: later reads would miss new runs
    }
    return out;
  });
}

std::vector<JobState> SqliteStore::job_states() { return job_states_where(""); }

std::vector<JobState> SqliteStore::finished_job_states() {
  return job_states_where(" WHERE last_finished_at IS NOT NULL");
}

std::vector<JobState> SqliteStore::job_states_where(const char* where) {
  return db_->call([where](SQLite::Database& db) {
    std::vector<JobState> out;
    SQLite::Statement q(db, std::string("SELECT ") + kJobStateColumns + " FROM job_state" + where + " ORDER BY job");
    while (q.executeStep()) out.push_back(read_job_state(q));
    return out;
  });
}

std::vector<RunRecord> SqliteStore::runs(const RunQuery& query) {
  return db_->call([&query](SQLite::Database& db) {
    std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1 = 1";
    if (!query.job.empty()) sql += " AND job = :job";
    if (query.status) sql += " AND status = :status";
    if (query.before_id) sql += " AND id < :before";
    if (query.since) sql += " AND scheduled_for >= :since";
    if (query.attempts_of) sql += " AND id >= :first AND (id = :first OR first_run_id = :first)";
    sql += " ORDER BY id DESC LIMIT :limit";
    SQLite::Statement q(db, sql);
    if (!query.job.empty()) q.bind(":job", query.job);
    if (query.status) q.bind(":status", std::string(to_string(*query.status)));
    if (query.before_id) q.bind(":before", *query.before_id);
    if (query.since) q.bind(":since", *query.since);
    if (query.attempts_of) q.bind(":first", *query.attempts_of);
    q.bind(":limit", query.limit);
    std::vector<RunRecord> out;
    while (q.executeStep()) out.push_back(read_run(q));
    return out;
  });
}

// Per job, so each reads only its newest rows through runs_by_job (job, id); one window over
// all the page's runs would read every run those jobs ever kept.
const std::string kRecentRunsSql =
    "SELECT id, status, trigger, attempt, scheduled_for, started_at, finished_at, duration_ms FROM runs "
    "WHERE job = ? ORDER BY id DESC LIMIT ?";

std::vector<std::vector<RunBrief>> SqliteStore::recent_runs(const std::vector<std::string>& jobs, int per_job) {
  return db_->call([this, &jobs, per_job](SQLite::Database&) {
    std::vector<std::vector<RunBrief>> out(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      SQLite::Statement& q = db_->statement(kRecentRunsSql.c_str());
      q.bind(1, jobs[i]);
      q.bind(2, per_job);
      while (q.executeStep()) {
        RunBrief r;
        r.id = q.getColumn(0).getInt64();
        r.status = parse_status(q.getColumn(1).getString()).value_or(RunStatus::kQueued);
        r.trigger = parse_trigger(q.getColumn(2).getString()).value_or(Trigger::kSchedule);
        r.attempt = q.getColumn(3).getInt();
        r.scheduled_for = q.getColumn(4).getInt64();
        r.started_at = optional_int(q.getColumn(5));
        r.finished_at = optional_int(q.getColumn(6));
        r.duration_ms = optional_int(q.getColumn(7));
        out[i].push_back(r);
      }
      q.reset();  // an active statement would hold its read snapshot
    }
    return out;
  });
}

std::optional<RunRecord> SqliteStore::run(int64_t id) {
  return db_->call([id](SQLite::Database& db) -> std::optional<RunRecord> {
    SQLite::Statement q(db, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::nullopt;
    return read_run(q);
  });
}

Result<std::optional<std::string>> SqliteStore::kv_get(const std::string& job, const std::string& key) {
  try {
    return db_->call([&](SQLite::Database& db) -> std::optional<std::string> {
      SQLite::Statement q(db, "SELECT value FROM kv WHERE job = ? AND key = ?");
      q.bind(1, job);
      q.bind(2, key);
      if (!q.executeStep()) return std::nullopt;
      return q.getColumn(0).getString();
    });
  } catch (const std::exception& e) {
    return Result<std::optional<std::string>>::error(e.what());
  }
}

Status SqliteStore::kv_put(const std::string& job, const std::string& key, const std::string& json, int64_t now) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "INSERT OR REPLACE INTO kv (job, key, value, updated_at) VALUES (?, ?, ?, ?)");
      q.bind(1, job);
      q.bind(2, key);
      q.bind(3, json);
      q.bind(4, now);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

Status SqliteStore::kv_delete(const std::string& job, const std::string& key) {
  try {
    db_->call([&](SQLite::Database& db) {
      SQLite::Statement q(db, "DELETE FROM kv WHERE job = ? AND key = ?");
      q.bind(1, job);
      q.bind(2, key);
      q.exec();
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

void SqliteStore::flush() { db_->flush(); }

WriteHealth SqliteStore::write_health() const { return db_->health(); }

}  // namespace cronhost::store
