// The PostgreSQL state store's schema: applying the compiled-in migrations and reading the
// version a database is at. Functions use only the connection they are given; a connection is
// used by one thread at a time.
#pragma once
#include <libpq-fe.h>

#include "util/status.hpp"

namespace cronhost::store {

// The advisory lock migrations run under (transaction-scoped): hosts starting at once on an
// empty database migrate it once; the others wait, then find nothing to do.
constexpr long long kPgMigrationLock = 7311401;

// Applies the pending migrations in one transaction under kPgMigrationLock and sets
// cronhost_schema.version to the number applied in all. Fails, changing nothing, on a database
// at a newer version than this build knows (the message names both) or on an SQL error.
Status migrate_pg_state(PGconn* conn);

// The database's schema version: 0 if cronhost_schema does not exist (nothing migrated yet).
// For the modes that do not migrate (readers, clients).
Result<int> pg_state_version(PGconn* conn);

}  // namespace cronhost::store
