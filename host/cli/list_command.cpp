// cronhost list [--json | --names]: the jobs found, with their next fire time.
#include <algorithm>
#include <map>
#include <iostream>

#include "cli/commands.hpp"
#include "config/job_json.hpp"
#include "store/open_store.hpp"

namespace cronhost::cli {

namespace {

std::string runner_text(const config::JobSpec& job) {
  const bool plugin = !job.plugin.empty();
  const std::filesystem::path file = plugin ? job.plugin : std::filesystem::path(job.lua_script);
  std::error_code ec;
  auto relative = std::filesystem::relative(file, ec);
  // The isolation is shown where it is not the default.
  const bool usual = job.isolation == (plugin ? config::Isolation::kProcess : config::Isolation::kInline);
  return (plugin ? "plugin " : "lua ") + (ec || relative.empty() ? file.string() : relative.string()) +
         (usual ? "" : " (" + std::string(config::to_string(job.isolation)) + ")");
}

}  // namespace

Command add_list_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("list", "List the jobs: name, schedule, time zone, runner, next fire time");
  auto as_json = std::make_shared<bool>(false);
  auto names_only = std::make_shared<bool>(false);
  auto state = std::make_shared<std::string>();
  auto* json_flag = cmd->add_flag("--json", *as_json, "Print a JSON array instead of a table");
  cmd->add_flag("--names", *names_only, "Print only the names of the jobs that load, one a line, and no diagnostics (for shell completion)")
      ->excludes(json_flag);
  cmd->add_option("--state", *state, "State file for the last run of each job (default: from the config)");
  return [as_json, names_only, state, &common]() {
    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    if (!context) {
      if (!*names_only) print_diagnostics(diagnostics);
      return kExitUsage;
    }
    const auto result = config::load_jobs({context->jobs_dir}, context->load_options);
    if (*names_only) {  // a completion runs this on every <Tab>: no state file, nothing on stderr
      for (const auto& job : result.jobs) std::cout << job.name << "\n";
      return kExitOk;
    }
    print_diagnostics(result.diagnostics);
    const Instant now = context->load_options.now;
    // The state file adds each job's last run and runtime switch; a host that never ran has none.
    std::map<std::string, store::JobState> states;
    const store::StateLocation where = store::state_location(context->config, *state);
    if (std::error_code ec; where.server || std::filesystem::exists(where.file, ec)) {
      if (auto store = store::open_store(where, store::OpenMode::kReader))
        for (auto& s : store.value()->job_states()) states.emplace(s.job, std::move(s));
      else if (where.server)  // a file that is not there yet is a host that never ran; a server should answer
        std::cerr << "cronhost: warning: " << store.message() << "\n";
    }
    const auto state_of = [&](const std::string& name) -> const store::JobState* {
      auto it = states.find(name);
      return it == states.end() ? nullptr : &it->second;
    };
    const auto runtime_disabled = [&](const config::JobSpec& job) {
      const auto* s = state_of(job.name);
      return s && s->enabled_override == false;
    };
    if (*as_json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& job : result.jobs) {
        nlohmann::json entry = config::job_to_json(job, now);
        const auto* s = state_of(job.name);
        entry["last_status"] = s && !s->last_status.empty() ? nlohmann::json(s->last_status) : nlohmann::json(nullptr);
        entry["runs"] = s ? s->runs : 0;
        entry["failures"] = s ? s->failures : 0;
        if (runtime_disabled(job)) entry["enabled"] = false, entry["next"] = nullptr;
        out.push_back(std::move(entry));
      }
      std::cout << out.dump(2) << "\n";
    } else {
      std::vector<std::array<std::string, 6>> rows{{"NAME", "SCHEDULE", "TIMEZONE", "RUNNER", "NEXT", "LAST"}};
      for (const auto& job : result.jobs) {
        const auto* s = state_of(job.name);
        rows.push_back({job.name, job.schedule.describe(), job.schedule.zone().name(), runner_text(job),
                        runtime_disabled(job) ? "disabled (at runtime)" : config::next_fire_text(job, now),
                        s && !s->last_status.empty() ? s->last_status : "-"});
      }
      std::array<size_t, 6> width{};
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
