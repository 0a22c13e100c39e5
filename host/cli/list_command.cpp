// cronhost list [--json]: the jobs found, with their next fire time.
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/schedule_text.hpp"

namespace cronhost::cli {

namespace {

std::string runner_text(const config::JobSpec& job) {
  std::error_code ec;
  auto relative = std::filesystem::relative(job.lua_script, ec);
  return "lua " + (ec || relative.empty() ? job.lua_script.string() : relative.string());
}

}  // namespace

Command add_list_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("list", "List the jobs: name, schedule, time zone, runner, next fire time");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Print a JSON array instead of a table");
  return [as_json, &common]() {
    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    if (!context) {
      print_diagnostics(diagnostics);
      return kExitUsage;
    }
    const auto result = config::load_jobs({context->jobs_dir}, context->load_options);
    print_diagnostics(result.diagnostics);
    const Instant now = context->load_options.now;
    if (*as_json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& job : result.jobs) out.push_back(job_to_json(job, now));
      std::cout << out.dump(2) << "\n";
    } else {
      std::vector<std::array<std::string, 5>> rows{{"NAME", "SCHEDULE", "TIMEZONE", "RUNNER", "NEXT"}};
      for (const auto& job : result.jobs)
        rows.push_back({job.name, job.schedule.describe(), job.schedule.zone().name(), runner_text(job),
                        next_fire_text(job, now)});
      std::array<size_t, 5> width{};
      for (const auto& row : rows)
        for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
      for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i)
          line += row[i] + (i + 1 < row.size() ? std::string(width[i] - row[i].size() + 2, ' ') : "");
        std::cout << line << "\n";
      }
    }
    return config::has_errors(result.diagnostics) ? kExitUsage : kExitOk;
  };
}

}  // namespace cronhost::cli
