// The admin API's half of the PostgreSQL store (store/sqlite_admin.cpp translated): runtime
// overrides and jobs registered over HTTP (each raising the catalog version the other hosts
// watch), the audit log, run statistics and the counts /health and /metrics show. Each call
// runs inside the writer thread's transaction and returns once it committed.
#include <algorithm>
#include <cmath>

#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/call_result.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {
namespace {

using namespace pg;

// The value at fraction `q` of sorted `values` (nearest rank), as sqlite_admin.cpp.
int64_t percentile(const std::vector<int64_t>& values, double q) {
  if (values.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// Raised in the transaction of each change to jobs: the other hosts reload them when it moves
// (dispatch/catalog_watch.hpp).
void bump_catalog(PgSession& db) { db.run("UPDATE catalog_version SET version = version + 1 WHERE id = 1"); }

}  // namespace

Status PgStore::set_enabled_override(const std::string& job, std::optional<bool> enabled) {
  return call_status(*db_, "cannot save the job's enabled state", [&](PgSession& db) {
    db.run("INSERT INTO job_state (job, enabled_override) VALUES ($1, $2::boolean) "
           "ON CONFLICT (job) DO UPDATE SET enabled_override = excluded.enabled_override",
           {param(job), enabled ? param_bool(*enabled) : std::nullopt});
    bump_catalog(db);
  });
}

Status PgStore::set_schedule_override(const std::string& job, const std::string& json) {
  return call_status(*db_, "cannot save the job's schedule", [&](PgSession& db) {
    db.run("INSERT INTO job_state (job, schedule_override) VALUES ($1, $2) "
           "ON CONFLICT (job) DO UPDATE SET schedule_override = excluded.schedule_override",
           {param(job), text_or_null(json)});
    bump_catalog(db);
  });
}

Result<std::vector<RegisteredJob>> PgStore::registered_jobs() {
  return call_result<std::vector<RegisteredJob>>(*db_, "cannot read the registered jobs", [&](PgSession& db) {
    std::vector<RegisteredJob> jobs;
    for (const auto& row : db.run("SELECT name, definition, registered_by, registered_at, updated_at "
                                  "FROM registered_jobs ORDER BY name")
                               .rows)
      jobs.push_back({text(row[0]), text(row[1]), text(row[2]), integer(row[3]), integer(row[4])});
    return jobs;
  });
}

Status PgStore::save_registered_job(const RegisteredJob& job) {
  return call_status(*db_, "cannot save the registered job", [&](PgSession& db) {
    db.run("INSERT INTO registered_jobs (name, definition, registered_by, registered_at, updated_at) "
           "VALUES ($1, $2, $3, $4::bigint, $5::bigint) ON CONFLICT (name) DO UPDATE SET "
           "definition = excluded.definition, registered_by = excluded.registered_by, updated_at = excluded.updated_at",
           {param(job.name), param(job.definition_json), param(job.registered_by), param(job.registered_at),
            param(job.updated_at)});
    bump_catalog(db);
  });
}

Status PgStore::delete_registered_job(const std::string& name) {
  return call_status(*db_, "cannot delete the registered job", [&](PgSession& db) {
    db.run("DELETE FROM registered_jobs WHERE name = $1", {param(name)});
    // Overrides belong to the job: a later job of the same name starts clean.
    db.run("UPDATE job_state SET enabled_override = NULL, schedule_override = NULL WHERE job = $1", {param(name)});
    bump_catalog(db);
  });
}

Result<int64_t> PgStore::catalog_version() {
  return call_result<int64_t>(*db_, "cannot read the catalog version", [&](PgSession& db) {
    return integer(db.run("SELECT version FROM catalog_version WHERE id = 1").rows.at(0).at(0));
  });
}

Result<std::vector<JobState>> PgStore::job_overrides() {
  return call_result<std::vector<JobState>>(*db_, "cannot read the jobs' overrides", [&](PgSession& db) {
    std::vector<JobState> states;
    for (const auto& row : db.run("SELECT job, enabled_override, schedule_override FROM job_state "
                                  "WHERE enabled_override IS NOT NULL OR schedule_override IS NOT NULL ORDER BY job")
                               .rows) {
      JobState state;
      state.job = text(row[0]);
      if (row[1]) state.enabled_override = boolean(row[1]);
      state.schedule_override = text(row[2]);
      states.push_back(std::move(state));
    }
    return states;
  });
}

Status PgStore::audit(const AuditEntry& entry) {
  return call_status(*db_, "cannot write the audit log", [&](PgSession& db) {
    db.run("INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1::bigint, $2, $3, $4, $5)",
           {param(entry.at), param(entry.actor), param(entry.action), param(entry.target),
            text_or_null(entry.detail_json)});
  });
}

Result<std::vector<AuditEntry>> PgStore::audit_log(const std::string& target, int limit) {
  return call_result<std::vector<AuditEntry>>(*db_, "cannot read the audit log", [&](PgSession& db) {
    std::vector<AuditEntry> entries;
    for (const auto& row : db.run("SELECT id, at, actor, action, target, detail FROM audit_log "
                                  "WHERE $1::text = '' OR target = $1::text ORDER BY id DESC LIMIT $2::bigint",
                                  {param(target), param(int64_t{limit})})
                               .rows)
      entries.push_back({integer(row[0]), integer(row[1]), text(row[2]), text(row[3]), text(row[4]), text(row[5])});
    return entries;
  });
}

Result<std::vector<RunStats>> PgStore::run_stats(const std::string& job, const std::vector<std::optional<int64_t>>& since) {
  return call_result<std::vector<RunStats>>(*db_, "cannot read the run statistics", [&](PgSession& db) {
    auto rows = db.run("SELECT finished_at, status, duration_ms, lateness_ms, items_processed, items_succeeded, "
                       "items_failed FROM runs WHERE job = $1 AND status NOT IN ('skipped', 'queued', 'running')",
                       {param(job)});
    struct Window {
      RunStats stats;
      std::vector<int64_t> durations;
      int64_t lateness_sum = 0, lateness_count = 0;
    };
    std::vector<Window> windows(since.size());
    for (const auto& row : rows.rows) {
      const int64_t finished = integer(row[0]);
      const std::string status = text(row[1]);
      for (size_t w = 0; w < since.size(); ++w) {
        if (since[w] && finished < *since[w]) continue;
        Window& window = windows[w];
        ++window.stats.runs;
        if (status == "succeeded") ++window.stats.successes;
        if (status == "failed" || status == "timed_out") ++window.stats.failures;
        if (row[2]) window.durations.push_back(integer(row[2]));
        if (row[3]) {
          window.lateness_sum += integer(row[3]);
          ++window.lateness_count;
        }
        window.stats.items.processed += integer(row[4]);  // NULL reads as 0, as in SQLite
        window.stats.items.succeeded += integer(row[5]);
        window.stats.items.failed += integer(row[6]);
      }
    }
    std::vector<RunStats> out;
    for (auto& window : windows) {
      std::sort(window.durations.begin(), window.durations.end());
      RunStats& stats = window.stats;
      stats.p50_ms = percentile(window.durations, 0.50);
      stats.p95_ms = percentile(window.durations, 0.95);
      stats.max_ms = window.durations.empty() ? 0 : window.durations.back();
      stats.avg_lateness_ms = window.lateness_count ? static_cast<double>(window.lateness_sum) /
                                                          static_cast<double>(window.lateness_count)
                                                    : 0;
      out.push_back(stats);
    }
    return out;
  });
}

Result<int64_t> PgStore::outbox_size() {
  return call_result<int64_t>(*db_, "cannot count the outbox", [&](PgSession& db) {
    return integer(db.run("SELECT count(*) FROM outbox").rows.at(0).at(0));
  });
}

Result<int64_t> PgStore::approvals_count(ApprovalStatus status) {
  return call_result<int64_t>(*db_, "cannot count the approvals", [&](PgSession& db) {
    return integer(db.run("SELECT count(*) FROM approvals WHERE status = $1", {param(std::string(to_string(status)))})
                       .rows.at(0)
                       .at(0));
  });
}

Status PgStore::check_writable() {
  // A one-row rewrite in the writer's transaction: a read-only server (a standby, a full
  // disk, a lost host lock) shows here as in SQLite.
  return call_status(*db_, "the state file cannot be written", [&](PgSession& db) {
    db.run("UPDATE job_state SET runs = runs WHERE job = (SELECT min(job) FROM job_state)");
  });
}

}  // namespace cronhost::store
