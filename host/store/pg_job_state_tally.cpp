#include "store/pg_job_state_tally.hpp"

#include <algorithm>
#include <vector>

#include "store/pg_session.hpp"
#include "store/pg_values.hpp"

namespace cronhost::store {
namespace {

using namespace pg;

// One row per job, in job order (ORDER BY: the INSERT locks conflicting rows in the order its
// SELECT yields them). A NULL last_status or last_slot leaves that part of the row as it was.
constexpr const char* kUpsert =
    "INSERT INTO job_state (job, runs, successes, failures, last_status, last_finished_at, last_slot, next_fire) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], "
    "$7::bigint[], $8::bigint[]) AS u(job, runs, successes, failures, last_status, last_finished_at, last_slot, "
    "next_fire) ORDER BY job COLLATE \"C\" "
    "ON CONFLICT (job) DO UPDATE SET runs = job_state.runs + excluded.runs, "
    "successes = job_state.successes + excluded.successes, failures = job_state.failures + excluded.failures, "
    "last_status = coalesce(excluded.last_status, job_state.last_status), "
    "last_finished_at = CASE WHEN excluded.last_status IS NULL THEN job_state.last_finished_at "
    "ELSE excluded.last_finished_at END, "
    "last_slot = CASE WHEN excluded.last_slot IS NULL THEN job_state.last_slot "
    "ELSE GREATEST(coalesce(job_state.last_slot, 0), excluded.last_slot) END, "
    "next_fire = CASE WHEN excluded.last_slot IS NULL THEN job_state.next_fire ELSE excluded.next_fire END";

}  // namespace

void PgJobStateTally::finished(const std::string& job, bool succeeded, const std::string& status,
                               int64_t finished_at) {
  Change& c = jobs_[job];
  ++c.runs;
  ++(succeeded ? c.successes : c.failures);
  c.last_status = status;
  c.last_finished_at = finished_at;
}

void PgJobStateTally::skipped(const std::string& job, int64_t at) {
  Change& c = jobs_[job];
  c.last_status = "skipped";
  c.last_finished_at = at;
}

void PgJobStateTally::fired(const std::string& job, int64_t slot, std::optional<int64_t> next_fire) {
  Change& c = jobs_[job];
  c.last_slot = std::max(c.last_slot.value_or(slot), slot);
  c.next_fire = next_fire;
}

void PgJobStateTally::write(PgSession& db) {
  if (jobs_.empty()) return;
  std::vector<PgParam> job, runs, successes, failures, status, finished_at, slot, next_fire;
  for (const auto& [name, c] : jobs_) {
    job.push_back(param(name));
    runs.push_back(param(c.runs));
    successes.push_back(param(c.successes));
    failures.push_back(param(c.failures));
    status.push_back(c.last_status);
    finished_at.push_back(c.last_status ? param(c.last_finished_at) : std::nullopt);
    slot.push_back(param(c.last_slot));
    next_fire.push_back(c.last_slot ? param(c.next_fire) : std::nullopt);
  }
  db.run(kUpsert, {array(job), array(runs), array(successes), array(failures), array(status), array(finished_at),
                   array(slot), array(next_fire)});
  jobs_.clear();
}

}  // namespace cronhost::store
