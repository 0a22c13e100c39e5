// cronhost history / show: read the run history from the state file, safely while the
// daemon runs (a read-only connection; WAL lets it read while the host writes). Times are
// shown in each job's zone, as `list` shows them.
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "store/open_store.hpp"

namespace cronhost::cli {
namespace {

// The zone of each job: its file's, else its registration's, else the host's default (a job
// whose file is gone, or no longer loads).
class JobZones {
 public:
  JobZones(const HostContext& context, store::Store& store) : default_(context.config.timezone) {
    for (const auto& job : config::load_jobs({context.jobs_dir}, context.load_options).jobs)
      zones_.emplace(job.name, job.schedule.zone_ptr());
    if (auto registered = store.registered_jobs())
      for (const auto& job : registered.value()) {  // a file job of the same name wins, as in the host
        const auto definition = nlohmann::json::parse(job.definition_json, nullptr, false);
        const auto name = nlohmann::json::json_pointer("/schedule/timezone");
        if (!definition.is_object() || !definition.contains(name) || !definition[name].is_string()) continue;
        if (auto zone = schedule::Zone::load(definition[name].get<std::string>())) zones_.emplace(job.name, zone.value());
      }
  }

  // "2026-11-25T16:43:18+05:30", or "-" for a time not set.
  std::string when(const std::string& job, std::optional<int64_t> ms) const {
    if (!ms) return "-";
    const auto it = zones_.find(job);
    const schedule::Zone& zone = it == zones_.end() ? *default_ : *it->second;
    const int64_t seconds = *ms / 1000;
    return format_rfc3339(Instant(std::chrono::seconds(seconds)), zone.offset_at(seconds));
  }

 private:
  std::shared_ptr<const schedule::Zone> default_;
  std::map<std::string, std::shared_ptr<const schedule::Zone>> zones_;
};

nlohmann::json to_json(const store::RunRecord& r, bool with_output, const JobZones& zones) {
  const auto when = [&](std::optional<int64_t> ms) { return zones.when(r.job, ms); };
  const auto opt = [](std::optional<int64_t> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json out = {{"id", r.id},
                        {"job", r.job},
                        {"trigger", std::string(store::to_string(r.trigger))},
                        {"scheduled_for", when(r.scheduled_for)},
                        {"attempt", r.attempt},
                        {"first_run_id", opt(r.first_run_id)},
                        {"status", std::string(store::to_string(r.status))},
                        {"started_at", r.started_at ? nlohmann::json(when(r.started_at)) : nlohmann::json(nullptr)},
                        {"finished_at", r.finished_at ? nlohmann::json(when(r.finished_at)) : nlohmann::json(nullptr)},
                        {"duration_ms", opt(r.duration_ms)},
                        {"lateness_ms", opt(r.lateness_ms)},
                        {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)},
                        // what happened after the run, e.g. a mail given up on (as GET /api/runs/{id})
                        {"notes", r.notes.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.notes)}};
  out["result"] = r.result_json.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(r.result_json, nullptr, false);
  if (with_output) {
    out["output"] = r.output;
    out["output_truncated"] = r.output_truncated;
  }
  return out;
}

struct History {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<JobZones> zones;
};

std::optional<History> open_state(const CommonOptions& common, const std::string& state) {
  config::Diagnostics diagnostics;
  auto context = load_host_context(common, diagnostics);
  if (!context) {
    print_diagnostics(diagnostics);
    return std::nullopt;
  }
  auto store = store::open_store(store::state_location(context->config, state), store::OpenMode::kReader);
  if (!store) {
    std::cerr << "cronhost: error: " << store.message() << "\n";
    return std::nullopt;
  }
  auto zones = std::make_unique<JobZones>(*context, *store.value());
  return History{std::move(store).value(), std::move(zones)};
}

}  // namespace

Command add_history_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("history", "List recent runs, newest first");
  auto job = std::make_shared<std::string>();
  auto status = std::make_shared<std::string>();
  auto state = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(20);
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("job", *job, "Only this job");
  cmd->add_option("--limit", *limit, "How many runs (default 20)")->check(CLI::Range(1, 100000));
  cmd->add_option("--status", *status, "Only runs with this status")
      ->check(CLI::IsMember({"queued", "running", "succeeded", "failed", "timed_out", "skipped", "cancelled", "interrupted"}));
  cmd->add_option("--state", *state, "State file (default: from the config, else ./cronhost.db)");
  cmd->add_flag("--json", *as_json, "Print JSON");
  return [=, &common]() -> int {
    auto history = open_state(common, *state);
    if (!history) return kExitUsage;
    store::RunQuery query{.job = *job, .status = store::parse_status(*status), .before_id = std::nullopt, .limit = *limit};
    const auto runs = history->store->runs(query);
    if (*as_json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : runs) out.push_back(to_json(r, false, *history->zones));
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    std::printf("%-8s %-20s %-9s %-3s %-25s %9s  %-11s %s\n", "ID", "JOB", "TRIGGER", "#", "SCHEDULED", "DURATION",
                "STATUS", "ERROR");
    for (const auto& r : runs) {
      const std::string duration = r.duration_ms ? std::to_string(*r.duration_ms) + "ms" : "-";
      const std::string error = r.error.substr(0, r.error.find('\n')).substr(0, 60);
      std::printf("%-8lld %-20s %-9s %-3d %-25s %9s  %-11s %s\n", static_cast<long long>(r.id), r.job.c_str(),
                  std::string(store::to_string(r.trigger)).c_str(), r.attempt,
                  history->zones->when(r.job, r.scheduled_for).c_str(),
                  duration.c_str(), std::string(store::to_string(r.status)).c_str(), error.c_str());
    }
    return kExitOk;
  };
}

Command add_show_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("show", "Show one run with its output, result and error");
  auto id = std::make_shared<int64_t>(0);
  auto state = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("run", *id, "Run id (from history)")->required();
  cmd->add_option("--state", *state, "State file (default: from the config, else ./cronhost.db)");
  cmd->add_flag("--json", *as_json, "Print JSON");
  return [=, &common]() -> int {
    auto history = open_state(common, *state);
    if (!history) return kExitUsage;
    auto run = history->store->run(*id);
    if (!run) {
      std::cerr << "cronhost: error: no run " << *id << "\n";
      return kExitFailed;
    }
    const nlohmann::json out = to_json(*run, true, *history->zones);
    if (*as_json) {
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    for (const auto& [key, value] : out.items())
      if (key != "output" && key != "result") std::cout << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    if (!out["result"].is_null()) std::cout << "result:\n" << out["result"].dump(2) << "\n";
    std::cout << "output" << (run->output_truncated ? " (cut at the output limit)" : "") << ":\n" << run->output;
    return kExitOk;
  };
}

}  // namespace cronhost::cli
