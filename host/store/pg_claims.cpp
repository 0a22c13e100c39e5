#include "store/pg_claims.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>

#include "store/pg_values.hpp"

namespace cronhost::store {
namespace {

using namespace pg;

// Schedule, catch-up and retry runs are unique per (job, slot, attempt) (the runs_slot index):
// their ids can be matched back by that key.
bool slot_run(const NewRun& run) {
  return run.trigger == Trigger::kSchedule || run.trigger == Trigger::kCatchup || run.trigger == Trigger::kRetry;
}

using SlotKey = std::tuple<std::string, int64_t, int64_t>;

// The columns a claim writes, one array per column, in the INSERT's order.
struct ClaimColumns {
  std::vector<PgParam> job, trigger, scheduled_for, attempt, first_run_id, status, queued_at, started_at, lateness_ms,
      error, finished_at, duration_ms, triggered_by, params, event, event_id, owner, exclusive;
  const ClaimOwner& claimer;

  explicit ClaimColumns(const ClaimOwner& claimer) : claimer(claimer) {}
  void add(const NewRun& run) {
    const bool skipped = run.status == RunStatus::kSkipped;
    const bool started = run.status != RunStatus::kQueued;
    job.push_back(param(run.job));
    trigger.push_back(param(std::string(to_string(run.trigger))));
    scheduled_for.push_back(param(run.scheduled_for));
    attempt.push_back(param(int64_t{run.attempt}));
    first_run_id.push_back(param(run.first_run_id));
    status.push_back(param(std::string(to_string(run.status))));
    queued_at.push_back(param(run.started_at));
    started_at.push_back(started ? param(run.started_at) : std::nullopt);
    lateness_ms.push_back(started ? param(run.lateness_ms) : std::nullopt);
    error.push_back(text_or_null(run.error));
    finished_at.push_back(skipped ? param(run.started_at) : std::nullopt);
    duration_ms.push_back(skipped ? param(int64_t{0}) : std::nullopt);
    triggered_by.push_back(text_or_null(run.triggered_by));
    params.push_back(text_or_null(run.params_json));
    event.push_back(text_or_null(run.event_json));
    event_id.push_back(param(run.event_id));
    owner.push_back(skipped ? std::nullopt : text_or_null(claimer.id));  // a skipped slot is final: nothing to own
    exclusive.push_back(param_bool(run.exclusive && !skipped));
  }
  std::vector<PgParam> arrays() const {
    return {array(job),         array(trigger),    array(scheduled_for), array(attempt),      array(first_run_id),
            array(status),      array(queued_at),  array(started_at),    array(lateness_ms),  array(error),
            array(finished_at), array(duration_ms), array(triggered_by), array(params),       array(event),
            array(event_id),    array(owner),      array(exclusive),     text_or_null(claimer.host),
            param(claimer.lease_ms)};
  }
};

// No conflict target: the partial unique indexes runs_slot, runs_event_once and runs_exclusive
// decide, as INSERT OR IGNORE (classify_refused tells which).
constexpr const char* kInsertRuns =
    "INSERT INTO runs (job, trigger, scheduled_for, attempt, first_run_id, status, queued_at, started_at, "
    "lateness_ms, error, finished_at, duration_ms, triggered_by, params, event, event_id, owner, exclusive, host, "
    "fence, lease_until) "
    "SELECT u.*, $19::text, CASE WHEN u.owner IS NULL THEN 0 ELSE 1 END, "
    "CASE WHEN u.owner IS NULL THEN NULL ELSE now() + $20::bigint * interval '1 millisecond' END "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::bigint[], $6::text[], $7::bigint[], "
    "$8::bigint[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[], "
    "$16::bigint[], $17::text[], $18::boolean[]) AS u(job, trigger, scheduled_for, attempt, first_run_id, status, "
    "queued_at, started_at, lateness_ms, error, finished_at, duration_ms, triggered_by, params, event, event_id, "
    "owner, exclusive) "
    "ON CONFLICT DO NOTHING RETURNING id, job, scheduled_for, attempt";

// For refused exclusive runs (u.i: 1-based in the arrays): whether their slot or event was
// claimed before (then that index refused them: already ran), and the host of the job's
// exclusive run still going (else runs_exclusive refused them: busy elsewhere). Statements see
// what committed before they started, and the refusing row had committed (ON CONFLICT waits).
constexpr const char* kClassifyRefused =
    "SELECT u.i, "
    "EXISTS (SELECT 1 FROM runs r WHERE u.trigger IN ('schedule', 'catchup', 'retry') AND r.job = u.job "
    "AND r.trigger IN ('schedule', 'catchup', 'retry') AND r.scheduled_for = u.slot AND r.attempt = u.attempt) "
    "OR EXISTS (SELECT 1 FROM runs r WHERE u.trigger = 'event' AND r.job = u.job AND r.trigger = 'event' "
    "AND r.event_id = u.event_id), "
    "(SELECT r.host FROM runs r WHERE r.job = u.job AND r.exclusive AND r.status IN ('queued', 'running') LIMIT 1) "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::bigint[]) WITH ORDINALITY "
    "AS u(job, trigger, slot, attempt, event_id, i)";

// Tells the refused exclusive runs apart: already ran, or busy elsewhere with the host.
void classify_refused(PgSession& db, const std::vector<NewRun>& runs, std::vector<ClaimResult>& results) {
  std::vector<size_t> refused;
  std::vector<PgParam> job, trigger, slot, attempt, event_id;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (results[i].claimed() || !runs[i].exclusive || runs[i].status == RunStatus::kSkipped) continue;
    refused.push_back(i);
    job.push_back(param(runs[i].job));
    trigger.push_back(param(std::string(to_string(runs[i].trigger))));
    slot.push_back(param(runs[i].scheduled_for));
    attempt.push_back(param(int64_t{runs[i].attempt}));
    event_id.push_back(param(runs[i].event_id));
  }
  if (refused.empty()) return;
  const PgRows rows =
      db.run(kClassifyRefused, {array(job), array(trigger), array(slot), array(attempt), array(event_id)});
  for (const PgRow& row : rows.rows) {
    if (boolean(row[1])) continue;  // already ran
    ClaimResult& result = results[refused[static_cast<size_t>(integer(row[0]) - 1)]];
    result.kind = ClaimResult::Kind::kBusyElsewhere;
    result.busy_host = text(row[2]);  // empty: that run ended meanwhile
  }
}

// Inserts the slot runs `order` picks (sorted by key, so that hosts claiming the same slots
// wait for each other in one order rather than deadlock) and fills their ids.
void insert_slot_runs(PgSession& db, const std::vector<NewRun>& runs, const std::vector<size_t>& order,
                      const ClaimOwner& owner, std::vector<ClaimResult>& ids) {
  ClaimColumns columns(owner);
  for (size_t i : order) columns.add(runs[i]);
  std::map<SlotKey, int64_t> inserted;
  for (const PgRow& row : db.run(kInsertRuns, columns.arrays()).rows)
    inserted.emplace(SlotKey{text(row[1]), integer(row[2]), integer(row[3])}, integer(row[0]));
  for (size_t i : order) {  // a key twice in one batch: the first took the row, as one by one
    auto it = inserted.find(SlotKey{runs[i].job, runs[i].scheduled_for, runs[i].attempt});
    if (it == inserted.end()) continue;
    ids[i] = {ClaimResult::Kind::kClaimed, it->second};
    inserted.erase(it);
  }
}

// Manual, after and event runs may share a key: one statement each (they come a few at a time).
void insert_other_run(PgSession& db, const NewRun& run, const ClaimOwner& owner, ClaimResult& id) {
  ClaimColumns columns(owner);
  columns.add(run);
  const PgRows rows = db.run(kInsertRuns, columns.arrays());
  if (!rows.rows.empty()) id = {ClaimResult::Kind::kClaimed, integer(rows.rows[0][0])};
}

// What the claimed runs change besides their rows: their pending retries taken and their
// events delivered (one statement each), each job's last slot, next fire and skips (the tally).
void record_claims(PgSession& db, const std::vector<NewRun>& runs, const std::vector<ClaimResult>& ids,
                   PgJobStateTally& tally) {
  std::vector<PgParam> retried, events;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!ids[i].claimed()) continue;
    const NewRun& run = runs[i];
    if (run.retry_of) retried.push_back(param(*run.retry_of));
    if (run.event_id) events.push_back(param(*run.event_id));
    if (run.record_slot) tally.fired(run.job, run.record_position.value_or(run.scheduled_for), run.next_fire);
    if (run.status == RunStatus::kSkipped) tally.skipped(run.job, run.started_at);
  }
  if (!retried.empty()) db.run("UPDATE runs SET retry_at = NULL WHERE id = ANY($1::bigint[])", {array(retried)});
  if (!events.empty())  // delivered with their runs, in one transaction
    db.run("UPDATE events SET delivered_at = $2::bigint WHERE id = ANY($1::bigint[]) AND delivered_at IS NULL",
           {array(events), param(runs.front().started_at)});
}

}  // namespace

std::vector<ClaimResult> insert_claims(PgSession& db, const std::vector<NewRun>& runs, const ClaimOwner& owner,
                                       PgJobStateTally& tally) {
  std::vector<ClaimResult> ids(runs.size());
  std::vector<size_t> slot_order;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (slot_run(runs[i])) slot_order.push_back(i);
    else insert_other_run(db, runs[i], owner, ids[i]);
  }
  std::stable_sort(slot_order.begin(), slot_order.end(), [&runs](size_t a, size_t b) {
    return std::tie(runs[a].job, runs[a].scheduled_for, runs[a].attempt) <
           std::tie(runs[b].job, runs[b].scheduled_for, runs[b].attempt);
  });
  if (!slot_order.empty()) insert_slot_runs(db, runs, slot_order, owner, ids);
  classify_refused(db, runs, ids);
  record_claims(db, runs, ids, tally);
  return ids;
}

}  // namespace cronhost::store
