#include "api/sqlite_guard.hpp"

#include <algorithm>
#include <cstring>
#include <sqlite3.h>
#include <string_view>
#include <strings.h>

namespace cronhost::api {
namespace {

// Pragmas that read a table's shape, check the file or tune only this connection: any value.
constexpr std::string_view kFreePragmas[] = {
    "analysis_limit", "application_id", "automatic_index", "cache_size",    "collation_list",
    "compile_options", "data_version",  "database_list",   "defer_foreign_keys", "foreign_key_check",
    "foreign_key_list", "foreign_keys", "freelist_count",  "function_list", "incremental_vacuum",
    "index_info",     "index_list",     "index_xinfo",     "integrity_check", "module_list",
    "optimize",       "page_count",     "pragma_list",     "query_only",    "quick_check",
    "recursive_triggers", "reverse_unordered_selects", "table_info", "table_list", "table_xinfo",
    "user_version",   "wal_checkpoint"};
// Pragmas that change how the file is kept, locked or trusted, or outlive the connection:
// reading them is fine, setting them is the host's (or the database owner's) business.
constexpr std::string_view kReadOnlyPragmas[] = {
    "auto_vacuum",  "busy_timeout",  "cell_size_check",   "checkpoint_fullfsync", "encoding",
    "fullfsync",    "journal_mode",  "journal_size_limit", "legacy_alter_table",  "locking_mode",
    "max_page_count", "mmap_size",   "page_size",         "schema_version",       "secure_delete",
    "synchronous",  "temp_store",    "trusted_schema",    "wal_autocheckpoint",   "writable_schema"};

template <size_t N>
bool listed(const std::string_view (&names)[N], const char* name) {
  return std::any_of(std::begin(names), std::end(names),
                     [name](std::string_view n) { return n.size() == std::strlen(name) && strncasecmp(n.data(), name, n.size()) == 0; });
}

std::optional<std::string> pragma_refusal(const char* name, const char* value) {
  if (!name) return "a PRAGMA without a name is refused";
  if (listed(kFreePragmas, name)) return std::nullopt;
  if (listed(kReadOnlyPragmas, name)) {
    if (!value) return std::nullopt;
    return "PRAGMA " + std::string(name) + " may be read but not set (to '" + value +
           "'): it changes how the database file is kept";
  }
  return "PRAGMA " + std::string(name) + " is refused: a job may use the pragmas that read a table's shape, "
         "check the file or tune its own connection";
}

}  // namespace

int sqlite_job_open_flags(bool readonly) {
  // Never SQLITE_OPEN_CREATE: a mistyped path must not become a new, empty database.
  return (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
}

std::optional<std::string> harden_sqlite(sqlite3* db) {
  int now = -1;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &now) != SQLITE_OK || now != 0)
    return "cannot turn off extension loading";
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &now) != SQLITE_OK || now != 1)
    return "cannot turn on SQLite's defensive mode";
  return std::nullopt;
}

std::optional<std::string> sqlite_refusal(int action, const char* arg1, const char* arg2, bool compiling) {
  switch (action) {
    case SQLITE_ATTACH:
      // SQLite names the file only when it is a literal, so the job's own ATTACH is refused
      // in every form. VACUUM attaches "" (a temporary file) as it runs; VACUUM INTO attaches
      // its target then, by name.
      if (!compiling && arg1 && *arg1 == '\0') return std::nullopt;
      [[fallthrough]];
    case SQLITE_DETACH:
      return std::string("ATTACH, DETACH and VACUUM INTO are refused: they reach files that allow.db does not name");
    case SQLITE_FUNCTION:
      if (arg2 && strcasecmp(arg2, "load_extension") == 0)
        return std::string("load_extension is refused: a job cannot load code into the host");
      return std::nullopt;
    case SQLITE_PRAGMA:
      return pragma_refusal(arg1, arg2);
    default:
      return std::nullopt;
  }
}

}  // namespace cronhost::api
