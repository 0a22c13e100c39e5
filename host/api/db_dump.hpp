// db.dump: a backup of a database the host config names, in the form its own tools restore.
// PostgreSQL through pg_dump, MySQL/MariaDB through mariadb-dump (or mysqldump), both run by
// api/tool_process with the host's fixed arguments; SQLite through the online backup
// (api/sqlite_backup), gzip-compressed afterwards when asked. The name must be in allow.db and
// the destination in allow.files. The file appears whole, or not at all.
//
// What a restore gets (chosen for a backup that restores into an empty database):
//   PostgreSQL: pg_dump --format=plain|custom --no-password; everything in the database,
//     owners and grants included (psql -f / pg_restore -d).
//   MySQL/MariaDB: --single-transaction --quick (a consistent snapshot of InnoDB tables,
//     streamed row by row), --routines (procedures and functions), triggers (the default),
//     --hex-blob (binary columns survive any client character set), --no-tablespaces (MySQL 8
//     wants the PROCESS privilege for them), no CREATE DATABASE or USE: it restores into
//     whichever database the client names. Events are left out: they need the EVENT privilege,
//     and a schedule is cronhost's job.
//
// Used from the run's thread only.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "api/db_connection.hpp"
#include "config/job_spec.hpp"

namespace cronhost::api {

enum class DumpFormat { kPlain, kCustom };  // kCustom: pg_dump's own archive (PostgreSQL only)

// "plain" or "custom"; nothing for any other name.
std::optional<DumpFormat> dump_format_named(std::string_view name);

struct DumpOptions {
  std::string path;  // absolute, beneath allow.files
  DumpFormat format = DumpFormat::kPlain;
  bool gzip = false;
};

struct DumpOutcome {
  std::filesystem::path path;
  uintmax_t bytes = 0;  // of the file as written (compressed when gzip)
  int64_t duration_ms = 0;
  // Tables in the dump: counted from the CREATE TABLE lines of a plain dump as it streams
  // (outside COPY data, so a row holding that text is not counted), from the schema for
  // SQLite; absent for pg_dump's custom format, which is compressed.
  std::optional<int64_t> tables;
  std::string engine;  // "postgresql", "mysql", "sqlite"
  bool dry_run = false;
};

// kRefused: `name` not in allow.db, or `options.path` outside allow.files; kMisuse: no such
// database in the host config, a format the engine has no such dump for, a path that is not
// absolute; kServer: the tool failed (its exit status and the tail of its stderr, redacted),
// the run's deadline passed or it was cancelled (the tool is killed, nothing is left).
// A dry run runs nothing: it captures the command line (no credentials are ever in it) and
// a virtual file of 0 bytes at the path.
DbResult<DumpOutcome> dump_database(const config::JobSpec& job, const config::HostConfig* host, const DbRunScope& scope,
                                    const std::string& name, const DumpOptions& options);

}  // namespace cronhost::api
