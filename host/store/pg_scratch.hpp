// A dry run's state when the host's state is in PostgreSQL: a private in-memory SQLite store
// seeded with what a run reads (kv, job state, open and executed approvals, each job's recent
// runs), so a dry run sees what a real run would, and writes nothing to the shared database.
#pragma once
#include <memory>

#include "config/host_config.hpp"
#include "store/state_store.hpp"

namespace cronhost::store {

Result<std::unique_ptr<Store>> open_pg_scratch(const config::DatabaseSettings& settings);

}  // namespace cronhost::store
