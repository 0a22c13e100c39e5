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
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/db_value.hpp"
#include "config/diagnostic.hpp"
#include "config/job_spec.hpp"
#include "config/yaml_document.hpp"

namespace cronhost::config {

struct LoadOptions;

struct TableSource {
  std::string name;  // the file's name without .yaml: how logs and /health name the source
  std::string file;
  std::filesystem::path base_dir;
  std::string db;     // a name in the host config's databases:
  std::string query;  // one SELECT
  std::chrono::milliseconds every{30000};
  std::string key = "id";  // the column that names a row in messages
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
std::optional<TableSource> read_table_source(const YamlDocument& doc, const std::filesystem::path& base_dir,
                                             Diagnostics& diagnostics);

// The jobs the rows make. A row whose job does not load (a bad cron, an unknown zone, a name
// taken by an earlier row) is left out with one problem naming the file and the row's key.
struct TableJobs {
  std::vector<JobSpec> jobs;
  std::vector<std::string> definitions;  // each job's filled-in template as JSON: unchanged rows keep their job
  std::vector<std::string> problems;  // "jobs.d/workflows.yaml: row id=7: schedule.cron: ..."
};
TableJobs expand_table_source(const TableSource& source, const api::DbRows& rows, const LoadOptions& options);

}  // namespace cronhost::config
