// The subcommands: each registers its options on the CLI11 app and returns an exit code
// when run. main.cpp wires them together.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "cli/job_set.hpp"
#include "schedule/schedule.hpp"

namespace cronhost::cli {

using Command = std::function<int()>;

// What both binaries' command lines share: --version, --jobs, --config, --service, one command.
constexpr const char* kAppDescription =
    "cronhost: runs jobs from jobs.d/ on cron schedules, intervals, one-shot times and events";
void add_root_options(CLI::App& app, CommonOptions& common);

Command add_validate_command(CLI::App& app, const CommonOptions& common);
Command add_list_command(CLI::App& app, const CommonOptions& common);
// `next JOB` finds the job's schedule with `find_job` (find_job_schedule, next_job.cpp: it reads
// the jobs folder). bin/cronhost passes none: it is linked statically, and reading job files may
// load libcurl (webhook URLs), which a static binary cannot do safely; it hands `next JOB` to
// the host binary.
struct JobSchedule {
  std::optional<schedule::Schedule> schedule;  // none: exit with exit_code, the reason said
  int exit_code = kExitOk;
};
using FindJobSchedule = JobSchedule (*)(const HostContext& context, const std::string& job);
JobSchedule find_job_schedule(const HostContext& context, const std::string& job);
Command add_next_command(CLI::App& app, const CommonOptions& common, FindJobSchedule find_job = nullptr);
Command add_run_command(CLI::App& app, const CommonOptions& common);
Command add_dry_run_command(CLI::App& app, const CommonOptions& common);
Command add_history_command(CLI::App& app, const CommonOptions& common);
Command add_show_command(CLI::App& app, const CommonOptions& common);
Command add_approvals_command(CLI::App& app, const CommonOptions& common);
Command add_plugin_command(CLI::App& app, const CommonOptions& common);
Command add_webhooks_command(CLI::App& app, const CommonOptions& common);  // list, test
Command add_migrate_state_command(CLI::App& app);  // SQLite state file -> PostgreSQL
Command add_remote_commands(CLI::App& app);  // trigger, enable, disable (through the API)
Command add_manual_command(CLI::App& app);   // hidden: man pages and completions from `app`

}  // namespace cronhost::cli
