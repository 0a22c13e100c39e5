// Claiming runs in the PostgreSQL state store: the rows of a claim batch inserted in a few
// statements whatever the batch's size (arrays through unnest), inside the caller's
// transaction. A round trip to the server costs more than the insert itself, so one statement
// per run held claims to ~1,300 slots/s where this reaches the SQLite store's rate.
#pragma once
#include <optional>
#include <vector>

#include "store/pg_job_state_tally.hpp"
#include "store/pg_session.hpp"
#include "store/records.hpp"
#include "store/state_store.hpp"

namespace cronhost::store {

// Who claims: the host's name (runs.host), and for a daemon its id, which owns the runs it
// starts (runs.owner, fence 1, a lease of lease_ms from the server's now()).
struct ClaimOwner {
  std::string host;
  std::string id;  // empty: nobody owns them (a client's claim)
  int64_t lease_ms = 0;
};

// For each run, in order: its new id; or already ran, if its (job, slot, attempt) or its event
// was claimed before; or, for an exclusive run, busy elsewhere if the job has an exclusive run
// queued or running (runs_exclusive), with that run's host. The claims' job_state changes
// (slots fired, skips) go to `tally`, written at the commit.
std::vector<ClaimResult> insert_claims(PgSession& db, const std::vector<NewRun>& runs, const ClaimOwner& owner,
                                       PgJobStateTally& tally);

}  // namespace cronhost::store
