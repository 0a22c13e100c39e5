// Jobs kept in a table the app already owns. A job file with `source:` is not a job: it names
// a query on one of the host's databases, and each row the query returns becomes a job made
// from the file's `job:` template, where {{row.COLUMN}} is that row's value:
//
//   source: {db: keeperhub, query: "SELECT id, cron_expression, timezone, enabled FROM workflow_schedules", every: 30s}
//   job:
//     name: "workflow-{{row.id}}"
//     schedule: {cron: "{{row.cron_expression}}", timezone: "{{row.timezone}}"}
//     enabled: "{{row.enabled}}"
//     run: {http: {url: "https://app.internal/api/workflow/{{row.id}}/execute"}}
//
// A value that is the whole placeholder keeps the column's type (enabled: true, not "1");
// inside text it is the value's text, percent-encoded inside run.http.url so a row cannot
// change the URL's path or host. A row's value is never read as ${env:...}: the template's own
// secrets were resolved when the file was read and stay secret in every job made from it.
//
// writeback: {exec: "UPDATE workflow_schedules SET last_run_at = ?, next_run_at = ? WHERE id = ?",
//             args: [run.started_at, job.next_fire, row.id]} keeps the app's columns current:
// after each run of a job a row made, on the same database (config::Writeback).
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/db_value.hpp"
#include "config/diagnostic.hpp"
#include "config/host_config.hpp"
#include "config/job_spec.hpp"
#include "config/yaml_document.hpp"

namespace cronhost::config {

struct LoadOptions;
struct LoadResult;

struct TableSource {
  std::string name;  // the file's name without .yaml: how logs and /health name the source
  std::string file;
  std::filesystem::path base_dir;
  std::string db;     // a name in the host config's databases:
  std::string query;  // one SELECT
  std::chrono::milliseconds every{30000};
  std::string key = "id";  // the column that names a row in messages
  // source.listen: a PostgreSQL channel; a NOTIFY on it re-reads at once (every: stays the fallback).
  std::string listen;
  // Where what the host config and the query are checked against later was written:
  // "/source/db", "/source/query", "/source/listen", "/source/key", "/writeback/exec", "/job".
  std::map<std::string, Position> written_at;
  struct ColumnUse {
    std::string column;   // {{row.COLUMN}}, a writeback's row.COLUMN, or source.key
    std::string pointer;  // where in the file ("/job/schedule/cron", "/writeback/args/2", "/source/key")
    Position at;
  };
  std::vector<ColumnUse> columns;  // each column the file uses, in file order
  nlohmann::json job_template;
  // writeback: {exec: SQL, args: [run.started_at, job.next_fire, row.id]}; empty sql: none.
  std::string writeback_sql;
  std::vector<std::string> writeback_args;
  std::set<std::string> secret_pointers;   // inside job_template, from ${env:}/${file:}
  std::vector<std::string> secret_values;  // each value those put in
};

// True when the document is a table source (it has `source:`), which read_table_source reads.
bool is_table_source(const YamlDocument& doc);

// The source, or nothing with its problems (file:line:col) in `diagnostics`.
// The template is checked against the job schema and reader with sample values put in for its
// placeholders; only a problem with a value no row can change is reported.
std::optional<TableSource> read_table_source(const YamlDocument& doc, const std::filesystem::path& base_dir,
                                             const LoadOptions& options, Diagnostics& diagnostics);

// What the source asks of the host config: its database is one of databases:, listen: is
// only for PostgreSQL, and the writeback's statement has a ? for each of its args. Problems
// go to `diagnostics` at the line of the key.
void check_source_against_host(const TableSource& source, const HostConfig& host, Diagnostics& diagnostics);
// The same for each source of a load: a source with a problem is taken out of `result` (the
// host keeps what it had), its problems added to the load's.
void check_sources_against_host(LoadResult& result, const HostConfig& host);

// The query's columns (as `cronhost validate --connect` gets them) against the file: one
// problem at the line of each {{row.COLUMN}}, writeback row.COLUMN or source.key the query
// does not return.
void check_source_columns(const TableSource& source, const std::vector<std::string>& columns,
                          Diagnostics& diagnostics);

// The jobs the rows make. A row whose job does not load (a bad cron, an unknown zone, a name
// taken by an earlier row) is left out with one problem naming the file and the row's key.
// A row whose filled-in template is the same as in `previous` (the last read's jobs) keeps
// that job as it was, unbuilt: re-reading 10,000 unchanged rows renders them and no more.
struct TableJobs {
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  std::vector<std::string> definitions;  // each job's filled-in template as JSON: unchanged rows keep their job
  std::vector<std::string> problems;  // "jobs.d/workflows.yaml: row id=7: schedule.cron: ..."
  size_t built = 0;                   // jobs built anew (the others came from `previous`)
};
TableJobs expand_table_source(const TableSource& source, const api::DbRows& rows, const LoadOptions& options,
                              const TableJobs* previous = nullptr);

}  // namespace cronhost::config
