// cronhost run: the daemon. Loads the jobs, opens the state file, starts the scheduler and
// then waits for signals: SIGHUP reloads, SIGUSR1 reopens the log file, SIGTERM/SIGINT stop
// gracefully. Under systemd (Type=notify) it reports each of those (util/service_notify.hpp).
#include <malloc.h>
#include <sys/prctl.h>

#include <algorithm>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "api/mail_outbox.hpp"
#include "notify/webhook_outbox.hpp"
#include "api/pg_listener.hpp"
#include "cli/build_info.hpp"
#include "cli/commands.hpp"
#include "config/host_config_changes.hpp"
#include "config/job_catalog.hpp"
#include "config/live_host_config.hpp"
#include "dispatch/catalog_watch.hpp"
#include "dispatch/definition_watch.hpp"
#include "dispatch/event_pump.hpp"
#include "dispatch/job_registry.hpp"
#include "dispatch/table_source_reader.hpp"
#include "dispatch/run_metrics.hpp"
#include "dispatch/run_metrics_seed.hpp"
#include "dispatch/scheduler.hpp"
#include "notify/notifier.hpp"
#include "plugin/landlock.hpp"
#include "plugin/pids_cgroup.hpp"
#include "plugin/plugin_job.hpp"
#include "server/api_server.hpp"
#include "store/open_store.hpp"
#include "store/pg_cluster_status.hpp"
#include "store/pg_store.hpp"
#include "store/state_file_mode.hpp"
#include "util/log.hpp"
#include "util/offset_clock.hpp"
#include "util/periodic_deadline.hpp"
#include "util/service_notify.hpp"

namespace cronhost::cli {
namespace {

// How often finished runs beyond the history retention are deleted.
constexpr std::chrono::minutes kPruneEvery{10};

void log_diagnostics(const config::Diagnostics& diagnostics) {
  for (const auto& d : diagnostics)
    log_event(d.is_error() ? spdlog::level::err : spdlog::level::warn, "job file problem",
              {{"where", d.file + ":" + std::to_string(d.position.line) + ":" + std::to_string(d.position.column)},
               {"problem", d.message}});
}

// The jobs to run; `had_errors` tells whether some job file failed (for the reload metrics).
// On a reload, a jobs folder that is missing or cannot be read keeps the jobs loaded before:
// it says nothing about the jobs, and applying it would remove every one.
std::vector<std::shared_ptr<const config::JobSpec>> load(const HostContext& context, const config::HostConfig& host,
                                                         config::JobCatalog& catalog, bool reloading,
                                                         bool* had_errors = nullptr) {
  auto result = config::load_jobs({context.jobs_dir}, context.load_options, &catalog.file_cache());
  config::check_sources_against_host(result, host);  // a source whose database it cannot use keeps its last good
  log_diagnostics(result.diagnostics);
  if (had_errors) *had_errors = config::has_errors(result.diagnostics);
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(context.jobs_dir, ec);
  if (reloading && (!result.complete || !folder)) {
    auto kept = catalog.jobs();
    log_event(spdlog::level::err, "cannot read the jobs folder; keeping the jobs loaded before",
              {{"folder", context.jobs_dir.string()},
               {"problem", !folder ? (std::filesystem::exists(context.jobs_dir, ec) ? "not a folder" : "missing")
                                   : "a folder inside cannot be read"},
               {"jobs", kept.size()}});
    if (had_errors) *had_errors = true;
    return kept;
  }
  auto jobs = catalog.update(std::move(result));
  // Parsing thousands of files leaves freed heap behind; give it back to the system.
  malloc_trim(0);
  for (const auto& name : catalog.kept())
    log_event(spdlog::level::warn, "keeping the last good version of a job whose file now fails", {{"job", name}});
  return jobs;
}

// The host config as the daemon runs it: the SMTP dead-letter file defaults to beside the
// state file in use.
std::shared_ptr<const config::HostConfig> snapshot(config::HostConfig config, const std::filesystem::path& state_path) {
  if (config.smtp && config.smtp->dead_letter.empty()) config.smtp->dead_letter = state_path.string() + ".dead-letter.jsonl";
  return std::make_shared<const config::HostConfig>(std::move(config));
}

void refresh_plugins(plugin::PluginCatalog& plugins, const std::vector<std::shared_ptr<const config::JobSpec>>& jobs) {
  for (const auto& problem : plugins.refresh(jobs)) log_event(spdlog::level::err, "plugin problem", {{"problem", problem}});
}

// Said once at start: a token from an unset variable is left out without an error (the
// repository's cronhost.yaml on a fresh checkout), and with none left the API refuses everyone.
void log_token_problems(const config::ServerSettings& server) {
  std::string empty;
  for (const auto& name : server.empty_tokens) empty += (empty.empty() ? "token \"" : ", token \"") + name + "\"";
  empty += server.empty_tokens.size() == 1 ? " in server.tokens is empty" : " in server.tokens are empty";
  if (server.tokens.empty())
    log_event(spdlog::level::warn, "the API answers 401 to every request until a token is set: " +
                                       (server.empty_tokens.empty() ? std::string("server.tokens lists none")
                                                                    : empty + " (its variable or file is unset or empty)"));
  else if (!server.empty_tokens.empty())
    log_event(spdlog::level::warn, empty + "; left out");
}

}  // namespace

Command add_run_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("run", "Run the host: fire the jobs in the jobs folder until SIGTERM");
  auto state = std::make_shared<std::string>();
  auto log_format = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("all");
  cmd->add_option("--role", *role,
                  "all (fire and run), scheduler (fire: queue runs for executors) or executor (run queued runs); "
                  "other than all needs the state in PostgreSQL")
      ->check(CLI::IsMember({"all", "scheduler", "executor"}));
  cmd->add_option("--state", *state, "State file or postgresql:// URL (default: from the config, else ./cronhost.db)");
  cmd->add_option("--log-format", *log_format, "text or json (default: from the config, else text)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->footer("SIGHUP reloads the jobs and the config; SIGUSR1 reopens the log file; "
              "SIGTERM or SIGINT stops after running runs finish.");
  return [state, log_format, role, &common]() -> int {
    // Before any secret is read: the host's memory, environment and /proc files are then
    // closed to other processes of its user (isolated plugins among them) unless they have
    // CAP_SYS_PTRACE, which runners never have. Also: no core dumps of the host.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // Signals are taken by sigwait below; block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
    ServiceNotifier service;  // systemd's NOTIFY_SOCKET, read before any thread starts
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    config::Diagnostics diagnostics;
    auto context = load_host_context(common, diagnostics);
    if (!context) {
      print_diagnostics(diagnostics);
      return kExitUsage;
    }
    const auto& config = context->config;
    const LogRotation rotation = config.log.rotate == "size"   ? LogRotation::kSize
                                 : config.log.rotate == "none" ? LogRotation::kNone
                                                               : LogRotation::kDaily;
    const LogOptions log{config.log.level, (log_format->empty() ? config.log.format : *log_format) == "json",
                         config.log.file, {rotation, config.log.keep, config.log.max_size_bytes}};
    if (auto error = setup_logging(log); !error.empty()) {
      std::cerr << "cronhost: error: " << error << "\n";
      return kExitUsage;
    }
    // A jobs folder that is not there is a mistake in the paths, not a host with no jobs (a
    // reload keeps the jobs it had instead: see load()).
    if (std::error_code ec; !std::filesystem::is_directory(context->jobs_dir, ec)) {
      log_event(spdlog::level::critical, "cannot start",
                {{"error", "the jobs folder " + context->jobs_dir.string() +
                               (std::filesystem::exists(context->jobs_dir, ec) ? " is not a folder" : " does not exist") +
                               " (--jobs, jobs: in the config" + (common.service ? ", or the service's default)" : ")")}});
      return kExitUsage;
    }
    const store::StateLocation where = store::state_location(config, *state);
    if (*role != "all" && !where.server) {
      std::cerr << "cronhost: error: --role " << *role << " needs the state in PostgreSQL (state: postgresql://...); "
                << "the state here is the file " << where.file.string() << ", which one host runs: use --role all\n";
      return kExitUsage;
    }
    // The host's own files (plugin snapshots, the mail dead-letter file) are named after the
    // state file, which names them even when the state is in PostgreSQL.
    const std::filesystem::path& state_path = where.file;
    // SMTP, databases, registries and http: runs take the snapshot current at their start, and
    // SIGHUP swaps in a new one.
    config::LiveHostConfig live(snapshot(context->config, state_path));
    auto store = store::open_store(where, store::OpenMode::kDaemon);
    if (!store) {
      log_event(spdlog::level::critical, "cannot start", {{"error", store.message()}});
      return kExitFailed;
    }
    // The state holds run output and the audit log: said once when others may read it.
    if (!where.server)
      for (const auto& loose : store::state_files_open_to_others(state_path))
        log_event(spdlog::level::warn, "a state file is readable by others than its owner; chmod it 600 (or 700)",
                  {{"file", loose.path.string()}, {"mode", loose.mode_text}});

    // The API reads on a connection of its own (WAL lets it read while runs are written).
    auto reader = store::open_store(where, store::OpenMode::kReader);
    if (!reader) {
      log_event(spdlog::level::critical, "cannot start", {{"error", reader.message()}});
      return kExitFailed;
    }

    config::JobCatalog catalog;
    auto jobs = load(*context, *live.current(), catalog, false);
    // Plugins run from private snapshots beside the state file, refreshed on SIGHUP.
    // run_as is read here, at start: a change needs a restart.
    // Without the runner the daemon still serves its other jobs; plugin runs and isolated
    // Lua runs fail, each saying it cannot start the runner.
    auto runner = plugin::find_runner();
    if (!runner)
      log_event(spdlog::level::warn, "plugin and isolated runs will fail", {{"error", runner.message()}});
    plugin::PluginCatalog plugins(state_path.string() + ".plugins",
                                  plugin::runner_or_missing(runner), config.run_as);
    refresh_plugins(plugins, jobs);
    dispatch::RunMetrics metrics;
    metrics.set_max_jobs(static_cast<size_t>(config.metrics_max_jobs));
    dispatch::SchedulerOptions options{config.workers, {config.run_memory_bytes, config.run_output_bytes}, &live,
                                       [&plugins](run::RunContext& ctx) { return plugin::run_job(ctx, plugins); },
                                       &metrics};
    options.heartbeat = &service;
    run::LiveOutputs live_outputs;  // the output of the runs going now, for the API's stream
    options.live_outputs = &live_outputs;
    auto* pg_store = dynamic_cast<store::PgStore*>(store.value().get());
    if (pg_store) {
      if (auto recorded = pg_store->set_role(*role); !recorded) {
        log_event(spdlog::level::critical, "cannot start", {{"error", recorded.message()}});
        return kExitFailed;
      }
    }
    options.role = *role == "scheduler" ? dispatch::HostRole::kScheduler
                   : *role == "executor" ? dispatch::HostRole::kExecutor
                                         : dispatch::HostRole::kAll;
    if (options.role == dispatch::HostRole::kExecutor)
      options.take_queued = [pg_store](int limit) { return pg_store->take_queued(limit); };
    // Hosts sharing a PostgreSQL state fire by the server's clock: one host's clock being off
    // must not fire slots early there, nor late.
    if (pg_store) options.clock = &pg_store->clock();
    // Notifications (notify:): told by the scheduler of runs that end and slots missed; fires
    // job channels and looks at the jobs through it.
    dispatch::Scheduler* scheduler_for_notify = nullptr;
    notify::Notifier notifier(
        *store.value(),
        notify::NotifierOptions{&live, &metrics, options.clock,
                                [&scheduler_for_notify](const std::string& job, const nlohmann::json& event) {
                                  return scheduler_for_notify && scheduler_for_notify->fire_job(job, event);
                                },
                                [&scheduler_for_notify] {
                                  return scheduler_for_notify ? scheduler_for_notify->jobs() : notify::JobList{};
                                }});
    options.notifier = &notifier;
    dispatch::Scheduler scheduler(*store.value(), options);
    scheduler_for_notify = &scheduler;
    // File jobs, jobs registered over the API and runtime overrides: the registry hands the
    // scheduler what runs.
    dispatch::JobRegistry registry(*store.value(), scheduler, config.server.registration_urls);
    dispatch::TableSourceReader table_sources(registry);  // jobs kept in the app's own tables
    // The store's reads and the start's recovery throw when the state file fails (a full disk
    // with runs a crash left running): the host says why and exits 1 rather than aborting.
    try {
      registry.start(jobs, context->load_options);
    } catch (const std::exception& e) {
      log_event(spdlog::level::critical, "cannot start", {{"error", std::string("state file: ") + e.what()}});
      scheduler.shutdown(std::chrono::milliseconds(0));
      return kExitFailed;
    }
    // Last run and last success from the state, so their gauges survive a restart.
    try {
      dispatch::seed_run_metrics(metrics, *reader.value());
    } catch (const std::exception& e) {  // the gauges start at 0; the host runs on
      log_event(spdlog::level::warn, "cannot read the last runs for /metrics", {{"error", e.what()}});
    }
    // The start's own transients (what it read back for catch-up, overrides and the gauges,
    // the catch-up scans, the first job_state writes) are freed by now; give them back too:
    // 294 -> 268 MB at 100,000 jobs, when every job's whole state was read back.
    malloc_trim(0);
    // Hosts sharing a PostgreSQL state: overrides and registrations made through another
    // host's API reach this one within a second, job definitions are compared between hosts,
    // and /health and /metrics show the cluster.
    const bool shared = store.value()->shared();
    dispatch::CatalogWatch catalog_watch(*reader.value(), registry);
    dispatch::DefinitionWatch definitions(*store.value(), registry);
    std::optional<store::PgClusterStatus> cluster;
    auto* pg_reader = dynamic_cast<store::PgStore*>(reader.value().get());
    if (shared && pg_store && pg_reader) cluster.emplace(*pg_store, *pg_reader);
    if (shared) {
      catalog_watch.start();
      definitions.start();
    }
    // The API answers once the scheduler has every job (a trigger right after the port file
    // appears must find its job).
    server::ReloadCounters reloads;
    std::optional<server::ApiServer> api;
    if (config.server.enabled) {
      log_token_problems(config.server);
      server::ApiContext api_context{config.server, *store.value(), *reader.value(), scheduler, registry, metrics, reloads,
                                     &table_sources, cluster ? &*cluster : nullptr, shared ? &definitions : nullptr};
      api_context.live_outputs = &live_outputs;
      api.emplace(api_context);
      if (auto started = api->start(); !started) {
        log_event(spdlog::level::critical, "cannot start", {{"error", started.message()}});
        scheduler.shutdown(std::chrono::milliseconds(0));
        return kExitFailed;
      }
    }
    // What keeps isolated runs in: said once, loudly when a wall is missing on this machine.
    log_event(plugin::landlock_abi() ? spdlog::level::info : spdlog::level::warn, "plugin isolation: files",
              {{"landlock", plugin::landlock_summary()}});
    log_event(plugin::pids_cgroup_base() ? spdlog::level::info : spdlog::level::warn, "plugin isolation: threads",
              {{"threads", plugin::pids_cgroup_summary(plugin::kMaxRunTasks)}});
    // An executor wakes on the schedulers' NOTIFY (its own connection, opened again when it
    // drops); its loop also looks every second.
    std::optional<api::PgListener> queued;
    if (options.role == dispatch::HostRole::kExecutor)
      queued.emplace("queued runs", *where.server, store::PgStore::kQueuedChannel, [&scheduler] { scheduler.wake_queued(); });
    log_event(spdlog::level::info, "cronhost started",
              {{"version", CRONHOST_VERSION}, {"commit", build_commit()}, {"jobs", jobs.size()},
               {"workers", config.workers}, {"role", *role}, {"state", store::describe(where)},
               {"jobs_dir", context->jobs_dir.string()}});
    jobs.clear();
    std::optional<api::MailOutbox> outbox;  // retries mail that runs could not deliver
    auto outbox_config = live.current();    // the snapshot the outbox reads its settings from
    if (outbox_config->smtp) outbox.emplace(*store.value(), *outbox_config->smtp).start();
    // Delivers (and retries) webhook notifications; on every host, whatever its role.
    std::optional<notify::WebhookOutbox> webhooks;
    webhooks.emplace(*store.value(), outbox_config->webhook_delivery, outbox_config->http).start();
    dispatch::EventPump events(*store.value(), scheduler);  // approvals made on the command line fire jobs
    if (options.role != dispatch::HostRole::kExecutor) events.start();  // the schedulers claim events' runs
    table_sources.set_sources(catalog.sources(), live.current(), context->load_options);
    table_sources.start();
    if (options.role != dispatch::HostRole::kExecutor) notifier.start();  // the dead-man timer
    service.ready(scheduler.status().jobs);  // the count the loop's beats report
    if (service.enabled())
      log_event(spdlog::level::info, "told systemd the host is ready",
                {{"watchdog_ms", service.watchdog_usec() / 1000}});

    PeriodicDeadline prune_timer(kPruneEvery, std::chrono::steady_clock::now());
    for (;;) {
      const timespec prune_in = prune_timer.left(std::chrono::steady_clock::now());
      const int signal = sigtimedwait(&signals, nullptr, &prune_in);
      if (signal == SIGHUP) {
        service.reloading();
        bool failed = false;
        config::Diagnostics reload_diagnostics;
        if (auto reloaded = load_host_context(common, reload_diagnostics)) {
          context->load_options = reloaded->load_options;  // a new default time zone applies to jobs
          const auto running = live.current();
          auto next = snapshot(reloaded->config, state_path);
          const auto changes = config::compare_host_configs(*running, *next);
          if (!changes.applied.empty() || !changes.need_restart.empty())
            log_event(changes.need_restart.empty() ? spdlog::level::info : spdlog::level::warn, "host config changed",
                      {{"applied", changes.applied}, {"need_restart", changes.need_restart}});
          if (api) api->replace_tokens(next->server.tokens);
          registry.set_registration_urls(next->server.registration_urls);
          metrics.set_max_jobs(static_cast<size_t>(next->metrics_max_jobs));
          live.replace(next);
          // The outbox holds its settings for its life: a changed smtp: restarts it.
          const bool smtp_changed = std::find(changes.applied.begin(), changes.applied.end(), "smtp") != changes.applied.end();
          if (smtp_changed) {
            outbox.reset();  // stops its thread
            outbox_config = next;
            if (outbox_config->smtp) outbox.emplace(*store.value(), *outbox_config->smtp).start();
          }
          const auto applied = [&](const char* key) {
            return std::find(changes.applied.begin(), changes.applied.end(), key) != changes.applied.end();
          };
          if (applied("webhook_delivery") || applied("http")) {
            webhooks.reset();  // stops its thread
            webhooks.emplace(*store.value(), next->webhook_delivery, next->http).start();
          }
        } else {
          log_diagnostics(reload_diagnostics);
          log_event(spdlog::level::err, "the host config has errors; keeping the previous one");
          failed = true;
        }
        context->load_options.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
        bool job_errors = false;
        auto reloaded_jobs = load(*context, *live.current(), catalog, true, &job_errors);
        refresh_plugins(plugins, reloaded_jobs);
        const size_t count = reloaded_jobs.size();
        registry.reload(reloaded_jobs, context->load_options);
        table_sources.set_sources(catalog.sources(), live.current(), context->load_options);
        ++reloads.reloads;
        if (failed || job_errors) ++reloads.failures;
        log_event(spdlog::level::info, "reloaded", {{"jobs", count}, {"registered", registry.size() - count}});
        service.reloaded(scheduler.status().jobs);
      } else if (signal == SIGUSR1) {
        // logrotate renamed the file (create mode): lines from here on go to a new one.
        if (const std::string problem = reopen_log_file(); problem.empty())
          log_event(spdlog::level::info, "log file reopened", {{"file", config.log.file.string()}});
        else
          log_event(spdlog::level::warn, "SIGUSR1: " + problem);
      } else if (signal == SIGTERM || signal == SIGINT) {
        log_event(spdlog::level::info, "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"},
                                                    {"grace_ms", live.current()->shutdown_grace.count()}});
        service.stopping(scheduler.status().running);
        break;
      }
      if (prune_timer.take(std::chrono::steady_clock::now())) {
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        const auto current = live.current();
        try {
          // Until a signal waits: the prune goes on 10 minutes later, the signal is answered now.
          const auto no_signal_waits = [&signals] {
            sigset_t pending;
            sigpending(&pending);
            for (int s = 1; s < NSIG; ++s)
              if (sigismember(&signals, s) == 1 && sigismember(&pending, s) == 1) return false;
            return true;
          };
          if (const int64_t removed = store.value()->prune(
                  {current->history_keep_days, current->history_keep_per_job}, now, no_signal_waits))
            log_event(spdlog::level::info, "pruned run history", {{"runs", removed}});
          // Failed webhooks are kept as long as the runs they were about.
          if (current->history_keep_days > 0)
            if (auto pruned = store.value()->webhook_prune_failed(now - int64_t{current->history_keep_days} * 86'400'000);
                pruned && pruned.value() > 0)
              log_event(spdlog::level::info, "pruned failed webhooks", {{"webhooks", pruned.value()}});
        } catch (const std::exception& e) {  // a full disk: the next prune tries again
          log_event(spdlog::level::err, "pruning run history failed", {{"error", e.what()}});
        }
      }
    }
    if (api) api->stop();
    catalog_watch.stop();
    definitions.stop();
    queued.reset();
    events.stop();
    table_sources.stop();
    scheduler.shutdown(live.current()->shutdown_grace);
    notifier.stop();
    if (outbox) outbox->stop();
    webhooks.reset();
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
