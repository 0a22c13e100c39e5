// The PostgreSQL state store's schema migrations (schemas/migrations/postgres/NNN_*.sql),
// compiled in. Migration i (0-based) brings the database to cronhost_schema.version i + 1.
#pragma once
#include <string_view>
#include <vector>

namespace cronhost::store {

const std::vector<std::string_view>& pg_migrations();

}  // namespace cronhost::store
