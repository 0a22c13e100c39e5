// The job definitions hosts sharing a PostgreSQL state publish (job_definitions), and the jobs
// whose definitions differ between live hosts: what keeps a host that loaded another version
// of a job from drifting silently (dispatch/definition_watch.hpp).
#include "store/pg_store.hpp"
#include "store/pg_values.hpp"
#include "store/pg_writer.hpp"

namespace cronhost::store {
namespace {

using namespace pg;

// Rows of hosts gone this long are deleted by whichever host publishes next: a host killed
// (no clean stop deletes its rows) would otherwise leave them forever. They are ignored from
// the moment its heartbeat stops; the hour only keeps the table small.
constexpr const char* kGoneHosts =
    "SELECT id FROM hosts WHERE stopped_at IS NOT NULL OR heartbeat_at < now() - interval '1 hour'";

}  // namespace

Status PgStore::publish_definitions(const std::vector<DefinitionHash>& hashes) {
  if (me_.id.empty()) return Status::ok();  // not a daemon: nothing of ours to publish
  std::vector<PgParam> jobs, values;
  for (const auto& h : hashes) {
    jobs.push_back(param(h.job));
    values.push_back(param(h.hash));
  }
  try {
    db_->call([&](PgSession& db) {
      db.run("DELETE FROM job_definitions WHERE host = $1 AND NOT (job = ANY($2::text[]))",
             {param(me_.id), array(jobs)});
      // Unchanged rows are not written: a publish of 10,000 jobs where one changed writes one.
      db.run("INSERT INTO job_definitions (job, host, hash) SELECT u.job, $1, u.hash "
             "FROM unnest($2::text[], $3::text[]) AS u(job, hash) ON CONFLICT (job, host) DO UPDATE "
             "SET hash = excluded.hash, updated_at = now() WHERE job_definitions.hash <> excluded.hash",
             {param(me_.id), array(jobs), array(values)});
      // SKIP LOCKED: two hosts tidying up at once never wait for (or deadlock on) each other.
      db.run(std::string("DELETE FROM job_definitions WHERE ctid IN (SELECT ctid FROM job_definitions WHERE host IN (") +
             kGoneHosts + ") FOR UPDATE SKIP LOCKED)");
    });
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot publish the job definitions: ") + e.what());
  }
}

Result<std::vector<DefinitionDrift>> PgStore::definition_drift() {
  using Drifts = std::vector<DefinitionDrift>;
  try {
    return db_->call([this](PgSession& db) {
      // Live as the reaper counts it: not stopped, and a heartbeat younger than a lease.
      auto rows = db.run(
          "WITH live AS (SELECT id, name FROM hosts WHERE stopped_at IS NULL "
          "AND heartbeat_at > now() - $1::bigint * interval '1 millisecond'), "
          "defs AS (SELECT d.job, l.name, d.hash FROM job_definitions d JOIN live l ON l.id = d.host), "
          "differing AS (SELECT job FROM defs GROUP BY job HAVING count(DISTINCT hash) > 1) "
          "SELECT job, name, hash FROM defs WHERE job IN (SELECT job FROM differing) ORDER BY job, name",
          {param(int64_t{me_.lease.count()})});
      Drifts drifts;
      for (const auto& row : rows.rows) {
        if (drifts.empty() || drifts.back().job != text(row[0])) drifts.push_back({text(row[0]), {}});
        drifts.back().hosts.emplace_back(text(row[1]), text(row[2]));
      }
      return drifts;
    });
  } catch (const std::exception& e) {
    return Result<Drifts>::error(std::string("cannot read the job definitions: ") + e.what());
  }
}

}  // namespace cronhost::store
