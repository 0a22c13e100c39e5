// The admin API's half of the SQLite store: runtime overrides, jobs registered over HTTP, the audit
// log, run statistics and the counts /health and /metrics show. Each call runs inside the
// database thread's transaction and returns once it committed.
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cmath>

#include "store/call_result.hpp"
#include "store/column_values.hpp"
#include "store/db_thread.hpp"
#include "store/sqlite_store.hpp"

namespace cronhost::store {
namespace {

// The value at fraction `q` of sorted `values` (nearest rank).
int64_t percentile(const std::vector<int64_t>& values, double q) {
  if (values.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

}  // namespace

Status SqliteStore::set_enabled_override(const std::string& job, std::optional<bool> enabled) {
  return call_status(*db_, "cannot save the job's enabled state", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO job_state (job, enabled_override) VALUES (?, ?) "
                        "ON CONFLICT (job) DO UPDATE SET enabled_override = excluded.enabled_override");
    q.bind(1, job);
    if (enabled) q.bind(2, *enabled ? 1 : 0);
    q.exec();
  });
}

Status SqliteStore::set_schedule_override(const std::string& job, const std::string& json) {
  return call_status(*db_, "cannot save the job's schedule", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO job_state (job, schedule_override) VALUES (?, ?) "
                        "ON CONFLICT (job) DO UPDATE SET schedule_override = excluded.schedule_override");
    q.bind(1, job);
    if (!json.empty()) q.bind(2, json);
    q.exec();
  });
}

Result<std::vector<RegisteredJob>> SqliteStore::registered_jobs() {
  return call_result<std::vector<RegisteredJob>>(*db_, "cannot read the registered jobs", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT name, definition, registered_by, registered_at, updated_at FROM registered_jobs "
                            "ORDER BY name");
    std::vector<RegisteredJob> jobs;
    while (q.executeStep())
      jobs.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                      q.getColumn(3).getInt64(), q.getColumn(4).getInt64()});
    return jobs;
  });
}

Result<std::vector<JobState>> SqliteStore::job_overrides() {
  return call_result<std::vector<JobState>>(*db_, "cannot read the jobs' overrides", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT job, enabled_override, schedule_override FROM job_state "
                            "WHERE enabled_override IS NOT NULL OR schedule_override IS NOT NULL ORDER BY job");
    std::vector<JobState> states;
    while (q.executeStep()) {
      JobState state;
      state.job = q.getColumn(0).getString();
      if (!q.getColumn(1).isNull()) state.enabled_override = q.getColumn(1).getInt() != 0;
      state.schedule_override = text(q.getColumn(2));
      states.push_back(std::move(state));
    }
    return states;
  });
}

Status SqliteStore::save_registered_job(const RegisteredJob& job) {
  return call_status(*db_, "cannot save the registered job", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO registered_jobs (name, definition, registered_by, registered_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, "
                        "registered_by = excluded.registered_by, updated_at = excluded.updated_at");
    q.bind(1, job.name);
    q.bind(2, job.definition_json);
    q.bind(3, job.registered_by);
    q.bind(4, job.registered_at);
    q.bind(5, job.updated_at);
    q.exec();
  });
}

Status SqliteStore::delete_registered_job(const std::string& name) {
  return call_status(*db_, "cannot delete the registered job", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM registered_jobs WHERE name = ?");
    q.bind(1, name);
    q.exec();
    // Overrides belong to the job: a later job of the same name starts clean.
    SQLite::Statement s(db, "UPDATE job_state SET enabled_override = NULL, schedule_override = NULL WHERE job = ?");
    s.bind(1, name);
    s.exec();
  });
}

Status SqliteStore::audit(const AuditEntry& entry) {
  return call_status(*db_, "cannot write the audit log", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)");
    q.bind(1, entry.at);
    q.bind(2, entry.actor);
    q.bind(3, entry.action);
    q.bind(4, entry.target);
    if (!entry.detail_json.empty()) q.bind(5, entry.detail_json);
    q.exec();
  });
}

Result<std::vector<AuditEntry>> SqliteStore::audit_log(const std::string& target, int limit) {
  return call_result<std::vector<AuditEntry>>(*db_, "cannot read the audit log", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT id, at, actor, action, target, detail FROM audit_log "
                            "WHERE ?1 = '' OR target = ?1 ORDER BY id DESC LIMIT ?2");
    q.bind(1, target);
    q.bind(2, limit);
    std::vector<AuditEntry> entries;
    while (q.executeStep())
      entries.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(),
                         q.getColumn(3).getString(), q.getColumn(4).getString(),
                         q.getColumn(5).isNull() ? "" : q.getColumn(5).getString()});
    return entries;
  });
}

Result<std::vector<RunStats>> SqliteStore::run_stats(const std::string& job, const std::vector<std::optional<int64_t>>& since) {
  return call_result<std::vector<RunStats>>(*db_, "cannot read the run statistics", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT finished_at, status, duration_ms, lateness_ms, items_processed, items_succeeded, "
                        "items_failed FROM runs WHERE job = ? AND status NOT IN ('skipped', 'queued', 'running')");
    q.bind(1, job);
    struct Window {
      RunStats stats;
      std::vector<int64_t> durations;
      int64_t lateness_sum = 0, lateness_count = 0;
    };
    std::vector<Window> windows(since.size());
    while (q.executeStep()) {
      const int64_t finished = q.getColumn(0).getInt64();
      const std::string status = q.getColumn(1).getString();
      for (size_t w = 0; w < since.size(); ++w) {
        if (since[w] && finished < *since[w]) continue;
        Window& window = windows[w];
        ++window.stats.runs;
        if (status == "succeeded") ++window.stats.successes;
        if (status == "failed" || status == "timed_out") ++window.stats.failures;
        if (!q.getColumn(2).isNull()) window.durations.push_back(q.getColumn(2).getInt64());
        if (!q.getColumn(3).isNull()) {
          window.lateness_sum += q.getColumn(3).getInt64();
          ++window.lateness_count;
        }
        window.stats.items.processed += q.getColumn(4).getInt64();  // NULL reads as 0
        window.stats.items.succeeded += q.getColumn(5).getInt64();
        window.stats.items.failed += q.getColumn(6).getInt64();
      }
    }
    std::vector<RunStats> out;
    for (auto& window : windows) {
      std::sort(window.durations.begin(), window.durations.end());
      RunStats& stats = window.stats;
      stats.p50_ms = percentile(window.durations, 0.50);
      stats.p95_ms = percentile(window.durations, 0.95);
      stats.max_ms = window.durations.empty() ? 0 : window.durations.back();
      stats.avg_lateness_ms =
          window.lateness_count ? static_cast<double>(window.lateness_sum) / static_cast<double>(window.lateness_count) : 0;
      out.push_back(stats);
    }
    return out;
  });
}

Result<int64_t> SqliteStore::outbox_size() {
  return call_result<int64_t>(*db_, "cannot count the outbox", [&](SQLite::Database& db) {
    return db.execAndGet("SELECT count(*) FROM outbox").getInt64();
  });
}

Result<int64_t> SqliteStore::approvals_count(ApprovalStatus status) {
  return call_result<int64_t>(*db_, "cannot count the approvals", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT count(*) FROM approvals WHERE status = ?");
    q.bind(1, std::string(to_string(status)));
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
}

Status SqliteStore::check_writable() {
  // Every call runs in the database thread's write transaction; a one-row rewrite makes its
  // commit reach the disk, so a full disk or a read-only file shows here.
  return call_status(*db_, "the state file cannot be written", [&](SQLite::Database& db) {
    db.exec("UPDATE job_state SET runs = runs WHERE rowid = (SELECT min(rowid) FROM job_state)");
  });
}

}  // namespace cronhost::store
