// The state file's schema migrations (schemas/migrations/NNN_*.sql), compiled in.
// Migration i (0-based) brings the file to PRAGMA user_version i + 1.
#pragma once
#include <string_view>
#include <vector>

namespace cronhost::store {

const std::vector<std::string_view>& migrations();

}  // namespace cronhost::store
