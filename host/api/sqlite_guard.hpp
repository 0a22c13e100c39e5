// What keeps a job's SQL inside the one database file that allow.db names: connection
// settings (no extensions, defensive mode) and the authorizer's rules for ATTACH, DETACH,
// VACUUM INTO, load_extension and pragmas. Pure functions; safe from any thread.
#pragma once
#include <optional>
#include <string>

struct sqlite3;

namespace cronhost::api {

// Opening flags for a job's database: never created, never through a symlink.
int sqlite_job_open_flags(bool readonly);

// Turns off extension loading and turns on SQLITE_DBCONFIG_DEFENSIVE (no writable_schema,
// no writes to sqlite_dbpage, no journal_mode=OFF). An error names the setting refused.
[[nodiscard]] std::optional<std::string> harden_sqlite(sqlite3* db);

// The authorizer's rule for one action (sqlite3_set_authorizer's arguments): nullopt when
// it is allowed, else why not. `compiling` is true while the job's own SQL is prepared;
// VACUUM's own ATTACH of a temporary file happens when it runs and is allowed.
// Allocates only for a refusal: it is called for every column a statement reads.
std::optional<std::string> sqlite_refusal(int action, const char* arg1, const char* arg2, bool compiling);

}  // namespace cronhost::api
