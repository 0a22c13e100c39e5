// cronhost dry-run JOB: runs a job once in the foreground as the host would, and keeps
// nothing: reads are performed, every effect (http writes, mail, db writes, file changes,
// approvals, state writes) is captured and printed instead. State writes go to an
// in-memory copy of the state file.
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "cli/commands.hpp"

#include "notify/notifier.hpp"
#include "plugin/plugin_job.hpp"
#include "run/lua_runner.hpp"
#include "store/open_store.hpp"
#include "util/did_you_mean.hpp"

namespace cronhost::cli {
namespace {

struct DryRunOptions {
  std::string job;
  std::vector<std::string> params;
  std::string at;
  std::string state;
  bool offline = false;
  bool json = false;
};

// A captured mail as its reader would see it: the headers, then the start of the text.
void print_mail(const nlohmann::json& mail) {
  const auto list = [](const nlohmann::json& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item.get<std::string>();
    return out;
  };
  std::cout << "          From: " << mail.value("from", "") << "\n          To: " << list(mail["to"]) << "\n";
  if (!mail["cc"].empty()) std::cout << "          Cc: " << list(mail["cc"]) << "\n";
  if (!mail["bcc"].empty()) std::cout << "          Bcc: " << list(mail["bcc"]) << "\n";
  std::cout << "          Subject: " << mail.value("subject", "") << "\n";
  std::istringstream text(mail.value("text", ""));
  int shown = 0;
  for (std::string line; std::getline(text, line) && shown < 12; ++shown) std::cout << "          | " << line << "\n";
}

void print_effects(const std::vector<api::Effect>& effects) {
  if (effects.empty()) return;
  std::cout << "--- effects (" << effects.size() << ", captured, not performed)\n";
  for (const auto& effect : effects) {
    std::cout << effect.kind << std::string(effect.kind.size() < 10 ? 10 - effect.kind.size() : 1, ' ') << effect.summary
              << "\n";
    if (effect.kind == "mail") print_mail(effect.detail);
  }
}

// What notify: would send for this outcome: channels and the event document, secrets as ***.
void print_notification(const nlohmann::json& planned) {
  if (planned.is_null()) return;
  std::cout << "--- notification (" << planned["event"].get<std::string>()
            << (planned["suppressed"].get<bool>() ? ", held back by repeat_every" : "") << "; not sent)\n";
  for (const auto& channel : planned["channels"]) {
    const std::string kind = channel["channel"];
    std::cout << kind << std::string(10 - kind.size(), ' ');
    if (kind == "mail") {
      std::string to;
      for (const auto& address : channel["to"]) to += (to.empty() ? "" : ", ") + address.get<std::string>();
      std::cout << "to " << to << "\n";
    } else if (kind == "webhook") {
      std::cout << "POST " << channel["url"].get<std::string>() << " (" << channel["format"].get<std::string>()
                << (channel["signed"].get<bool>() ? ", signed" : "") << ")\n";
    } else {
      std::cout << "fire " << channel["job"].get<std::string>() << "\n";
    }
  }
  std::cout << planned["document"].dump(2) << "\n";
}

}  // namespace

Command add_dry_run_command(CLI::App& app, const CommonOptions& common) {
  auto options = std::make_shared<DryRunOptions>();
  auto* cmd = app.add_subcommand("dry-run", "Run a job once in the foreground, keeping nothing");
  cmd->add_option("job", options->job, "The job to run")->required();
  cmd->add_option("--param", options->params, "Override a param: KEY=VALUE (VALUE as JSON if it parses, else text)");
  cmd->add_option("--at", options->at, "Pretend the run is for this slot (RFC 3339; default now)");
  cmd->add_option("--state", options->state, "State file to copy the job's state from (default: from the config)");
  cmd->add_flag("--offline", options->offline, "Perform no network reads either (http GET, registry)");
  cmd->add_flag("--json", options->json, "Print the outcome and the captured effects as one JSON object");
  cmd->footer("Exit 0 if the run succeeded, 1 if it failed, 2 for usage errors.");
  return [options, &common]() -> int {
    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    if (!context) {
      print_diagnostics(diagnostics);
      return kExitUsage;
    }
    auto result = config::load_jobs({context->jobs_dir}, context->load_options);
    const config::JobSpec* found = nullptr;
    std::vector<std::string> names;
    for (const auto& job : result.jobs) {
      names.push_back(job.name);
      if (job.name == options->job) found = &job;
    }
    if (!found) {
      print_diagnostics(result.diagnostics);
      std::cerr << "cronhost: error: no valid job named '" << options->job << "' in " << context->jobs_dir.string()
                << did_you_mean_suffix(options->job, names) << "\n";
      return kExitUsage;
    }
    config::JobSpec job = *found;
    for (const auto& param : options->params) {
      const size_t eq = param.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "cronhost: error: --param " << param << ": expected KEY=VALUE\n";
        return kExitUsage;
      }
      const std::string value = param.substr(eq + 1);
      auto parsed = nlohmann::json::parse(value, nullptr, false);
      job.params[param.substr(0, eq)] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
    }
    int64_t scheduled_for = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
    if (!options->at.empty()) {
      auto at = parse_rfc3339(options->at);
      if (!at || !at->offset_seconds) {
        std::cerr << "cronhost: error: --at: " << (at ? "give an offset, e.g. 2026-12-01T09:00:00+10:30" : at.message())
                  << "\n";
        return kExitUsage;
      }
      scheduled_for = at->instant().time_since_epoch().count() * 1000;
    }
    const store::StateLocation where = store::state_location(context->config, options->state);
    auto store = store::open_store(where, store::OpenMode::kScratch);
    if (!store) {
      std::cerr << "cronhost: error: " << store.message() << "\n";
      return kExitUsage;
    }

    run::RunContext ctx(job, {context->config.run_memory_bytes, context->config.run_output_bytes}, store.value().get(),
                        &context->config, options->offline ? api::EffectMode::kOffline : api::EffectMode::kDryRun);
    ctx.trigger = store::Trigger::kManual;
    ctx.scheduled_for_ms = scheduled_for;
    const auto start = std::chrono::steady_clock::now();
    // A plugin is snapshotted and checked as the daemon would, into a folder of its own.
    std::string snapshots = (std::filesystem::temp_directory_path() / "cronhost-dry-run-XXXXXX").string();
    if (!mkdtemp(snapshots.data())) {  // a fresh private folder: no one else can plant a plugin there
      std::cerr << "cronhost: error: cannot make a temporary folder in " << std::filesystem::temp_directory_path() << "\n";
      return kExitFailed;
    }
    auto runner = plugin::find_runner();
    if (!runner && (!job.plugin.empty() || job.isolation == config::Isolation::kProcess))
      std::cerr << "cronhost: error: " << runner.message() << "\n";
    plugin::PluginCatalog plugins(snapshots, plugin::runner_or_missing(runner),
                                  context->config.run_as);
    for (const auto& problem : plugins.refresh({std::make_shared<const config::JobSpec>(job)}))
      std::cerr << "cronhost: " << problem << "\n";
    const run::RunResult outcome = plugin::run_job(ctx, plugins);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    // As if this were the last attempt of a scheduled run; the history is the state copy's.
    config::LiveHostConfig live(std::make_shared<const config::HostConfig>(context->config));
    notify::Notifier notifier(*store.value(), notify::NotifierOptions{&live});
    const int64_t finished_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
    const nlohmann::json planned = notifier.preview(
        job, notify::RunFacts{0, std::nullopt, job.retries.attempts, outcome.status, store::Trigger::kSchedule,
                              scheduled_for, finished_ms - ms.count(), finished_ms, outcome.error, false});

    if (options->json) {
      nlohmann::json effects = nlohmann::json::array();
      for (const auto& effect : ctx.effects.captured())
        effects.push_back({{"kind", effect.kind}, {"summary", effect.summary}, {"detail", effect.detail}});
      nlohmann::json out = {{"job", job.name},
                            {"status", store::to_string(outcome.status)},
                            {"duration_ms", ms.count()},
                            {"output", ctx.output.text()},
                            {"output_truncated", ctx.output.truncated()},
                            {"result", outcome.result_json.empty() ? nlohmann::json() : nlohmann::json::parse(outcome.result_json)},
                            {"error", outcome.error},
                            {"effects", effects},
                            {"notification", planned}};
      std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return outcome.status == store::RunStatus::kSucceeded ? kExitOk : kExitFailed;
    }
    std::cout << "--- output" << (ctx.output.truncated() ? " (cut at the output limit)" : "") << "\n"
              << ctx.output.text();
    print_effects(ctx.effects.captured());
    print_notification(planned);
    if (!outcome.result_json.empty())
      std::cout << "--- result\n" << nlohmann::json::parse(outcome.result_json).dump(2) << "\n";
    std::cout << "--- " << store::to_string(outcome.status) << " in " << ms.count() << " ms (dry run: nothing kept)\n";
    if (!outcome.error.empty()) std::cout << outcome.error << "\n";
    return outcome.status == store::RunStatus::kSucceeded ? kExitOk : kExitFailed;
  };
}

}  // namespace cronhost::cli
