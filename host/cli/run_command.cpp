// cronhost run: the daemon. Loads the jobs, opens the state file, starts the scheduler and
// then waits for signals: SIGHUP reloads, SIGTERM/SIGINT stop gracefully.
#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "api/mail_outbox.hpp"
#include "cli/commands.hpp"
#include "config/job_catalog.hpp"
#include "dispatch/event_pump.hpp"
#include "dispatch/job_registry.hpp"
#include "dispatch/run_metrics.hpp"
#include "dispatch/scheduler.hpp"
#include "plugin/plugin_job.hpp"
#include "server/api_server.hpp"
#include "store/state_store.hpp"
#include "util/log.hpp"

namespace cronhost::cli {
namespace {

// How often finished runs beyond the history retention are deleted.
constexpr int kPruneEverySeconds = 600;

void log_diagnostics(const config::Diagnostics& diagnostics) {
  for (const auto& d : diagnostics)
    log_event(d.is_error() ? spdlog::level::err : spdlog::level::warn, "job file problem",
              {{"where", d.file + ":" + std::to_string(d.position.line) + ":" + std::to_string(d.position.column)},
               {"problem", d.message}});
}

// The jobs to run; `had_errors` tells whether some job file failed (for the reload metrics).
std::vector<std::shared_ptr<const config::JobSpec>> load(const HostContext& context, config::JobCatalog& catalog,
                                                         bool* had_errors = nullptr) {
  auto result = config::load_jobs({context.jobs_dir}, context.load_options);
  log_diagnostics(result.diagnostics);
  if (had_errors) *had_errors = config::has_errors(result.diagnostics);
  auto jobs = catalog.update(std::move(result));
  // Parsing thousands of files leaves freed heap behind; give it back to the system.
  malloc_trim(0);
  for (const auto& name : catalog.kept())
    log_event(spdlog::level::warn, "keeping the last good version of a job whose file now fails", {{"job", name}});
  return jobs;
}

void refresh_plugins(plugin::PluginCatalog& plugins, const std::vector<std::shared_ptr<const config::JobSpec>>& jobs) {
  for (const auto& problem : plugins.refresh(jobs)) log_event(spdlog::level::err, "plugin problem", {{"problem", problem}});
}

}  // namespace

Command add_run_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("run", "Run the host: fire the jobs in the jobs folder until SIGTERM");
  auto state = std::make_shared<std::string>();
  auto log_format = std::make_shared<std::string>();
  cmd->add_option("--state", *state, "State file (default: from the config, else ./cronhost.db)");
  cmd->add_option("--log-format", *log_format, "text or json (default: from the config, else text)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->footer("SIGHUP reloads the jobs and the config; SIGTERM or SIGINT stops after running runs finish.");
  return [state, log_format, &common]() -> int {
    // Signals are taken by sigwait below; block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    if (!context) {
      print_diagnostics(diagnostics);
      return kExitUsage;
    }
    const auto& config = context->config;
    const LogOptions log{config.log.level, (log_format->empty() ? config.log.format : *log_format) == "json",
                         config.log.file, config.log.keep_days};
    if (auto error = setup_logging(log); !error.empty()) {
      std::cerr << "cronhost: error: " << error << "\n";
      return kExitUsage;
    }
    const std::filesystem::path state_path = state->empty() ? config.state_file : std::filesystem::path(*state);
    if (context->config.smtp && context->config.smtp->dead_letter.empty())
      context->config.smtp->dead_letter = state_path.string() + ".dead-letter.jsonl";
    auto store = store::Store::open(state_path);
    if (!store) {
      log_event(spdlog::level::critical, "cannot start", {{"error", store.message()}});
      return kExitFailed;
    }

    // The API reads on a connection of its own (WAL lets it read while runs are written).
    auto reader = store::Store::open_readonly(state_path);
    if (!reader) {
      log_event(spdlog::level::critical, "cannot start", {{"error", reader.message()}});
      return kExitFailed;
    }

    config::JobCatalog catalog;
    auto jobs = load(*context, catalog);
    // Plugins run from private snapshots beside the state file, refreshed on SIGHUP.
    plugin::PluginCatalog plugins(state_path.string() + ".plugins", plugin::default_runner_path());
    refresh_plugins(plugins, jobs);
    dispatch::RunMetrics metrics;
    dispatch::Scheduler scheduler(*store.value(), {config.workers, {config.run_memory_bytes, config.run_output_bytes}, &config,
                                                   [&plugins](run::RunContext& ctx) { return plugin::run_job(ctx, plugins); },
                                                   &metrics});
    // File jobs, jobs registered over the API and runtime overrides: the registry hands the
    // scheduler what runs.
    dispatch::JobRegistry registry(*store.value(), scheduler, config.server.registration_urls);
    registry.start(jobs, context->load_options);
    // The API answers once the scheduler has every job (a trigger right after the port file
    // appears must find its job).
    server::ReloadCounters reloads;
    std::optional<server::ApiServer> api;
    if (config.server.enabled) {
      if (config.server.tokens.empty())
        log_event(spdlog::level::warn, "server.tokens lists no token: the API answers 401 to every request");
      api.emplace(server::ApiContext{config.server, *store.value(), *reader.value(), scheduler, registry, metrics, reloads});
      if (auto started = api->start(); !started) {
        log_event(spdlog::level::critical, "cannot start", {{"error", started.message()}});
        scheduler.shutdown(std::chrono::milliseconds(0));
        return kExitFailed;
      }
    }
    log_event(spdlog::level::info, "cronhost started",
              {{"version", CRONHOST_VERSION}, {"jobs", jobs.size()}, {"workers", config.workers},
               {"state", state_path.string()}, {"jobs_dir", context->jobs_dir.string()}});
    jobs.clear();
    std::optional<api::MailOutbox> outbox;  // retries mail that runs could not deliver
    if (config.smtp) outbox.emplace(*store.value(), *config.smtp).start();
    dispatch::EventPump events(*store.value(), scheduler);  // approvals made on the command line fire jobs
    events.start();

    const store::Retention retention{config.history_keep_days, config.history_keep_per_job};
    const timespec prune_interval{kPruneEverySeconds, 0};
    for (;;) {
      const int signal = sigtimedwait(&signals, nullptr, &prune_interval);
      if (signal == SIGHUP) {
        bool failed = false;
        config::Diagnostics reload_diagnostics;
        if (auto reloaded = load_host_context(common, reload_diagnostics)) {
          context->load_options = reloaded->load_options;  // a new default time zone applies to jobs
          if (reloaded->config.workers != config.workers)
            log_event(spdlog::level::warn, "a new workers count takes effect at restart");
          if (api) api->replace_tokens(reloaded->config.server.tokens);
          registry.set_registration_urls(reloaded->config.server.registration_urls);
        } else {
          log_diagnostics(reload_diagnostics);
          log_event(spdlog::level::err, "the host config has errors; keeping the previous one");
          failed = true;
        }
        context->load_options.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
        bool job_errors = false;
        auto reloaded_jobs = load(*context, catalog, &job_errors);
        refresh_plugins(plugins, reloaded_jobs);
        const size_t count = reloaded_jobs.size();
        registry.reload(reloaded_jobs, context->load_options);
        ++reloads.reloads;
        if (failed || job_errors) ++reloads.failures;
        log_event(spdlog::level::info, "reloaded", {{"jobs", count}, {"registered", registry.size() - count}});
      } else if (signal == SIGTERM || signal == SIGINT) {
        log_event(spdlog::level::info, "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"},
                                                    {"grace_ms", config.shutdown_grace.count()}});
        break;
      } else {
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        if (const int64_t removed = store.value()->prune(retention, now))
          log_event(spdlog::level::info, "pruned run history", {{"runs", removed}});
      }
    }
    if (api) api->stop();
    events.stop();
    scheduler.shutdown(config.shutdown_grace);
    if (outbox) outbox->stop();
    if (const size_t stuck = scheduler.abandoned()) {
      // Their workers still run (inside plugin code, say): destructors would unload that code
      // under them or close the state file they hold. Everything is recorded and flushed.
      log_event(spdlog::level::warn, "cronhost stopped, leaving stuck runs behind", {{"runs", stuck}});
      spdlog::shutdown();
      std::_Exit(kExitOk);
    }
    log_event(spdlog::level::info, "cronhost stopped");
    return kExitOk;
  };
}

}  // namespace cronhost::cli
