// /health (liveness of the scheduler loop and the state file, workers and queue, slots missed
// in the last hour; with a shared PostgreSQL state, the cluster and the jobs whose definitions
// differ between hosts), /metrics (Prometheus text: the host's gauges, per-job series, process
// metrics) and /api/whoami.
#include <cstdio>

#include "server/http_json.hpp"
#include "server/routes.hpp"
#include "util/clock.hpp"
#include "util/process_stats.hpp"

namespace cronhost::server {
namespace {

// A loop that has not woken for this long is stuck: it wakes at least every second.
constexpr int64_t kStuckLoopMs = 10'000;
// A failed commit or claim keeps /health at 503 this long: an every-second job claims each
// second, so a disk that stays full keeps it there, and a cured one clears within seconds.
constexpr int64_t kRecentFailureMs = 5'000;
// /health lists the jobs with slots missed this far back.
constexpr int64_t kMissedLookBackMs = 3'600'000;

// The hosts sharing a PostgreSQL state as this host sees them (the database's part at most a
// second old). A database that cannot be read is already a problem of the state above.
nlohmann::json cluster_json(const store::ClusterStatus& c) {
  nlohmann::json out = {{"host", c.host},
                        {"id", c.id},
                        {"runs_reaped", c.runs_reaped},
                        {"late_completions_refused", c.late_completions_refused},
                        {"claim_conflicts", c.claim_conflicts},
                        {"reaper_ready", c.reaper_ready}};
  if (!c.counts) {
    out["error"] = c.error;
    return out;
  }
  out["hosts_alive"] = c.counts->hosts_alive;
  out["leases_held"] = {{"this_host", c.counts->leases_held_here}, {"all", c.counts->leases_held}};
  out["queue_depth"] = c.counts->queue_depth;
  out["queue_oldest_age_ms"] = c.counts->queue_oldest_age_ms;
  out["read_ms_ago"] = c.counts_age_ms;
  return out;
}

void health(const ApiContext& ctx, httplib::Response& res) {
  const auto status = ctx.scheduler.status();
  const int64_t loop_age = status.loop_age_ms;
  std::vector<std::string> problems;
  if (loop_age > kStuckLoopMs)
    problems.push_back("the scheduler loop has not run for " + std::to_string(loop_age / 1000) + " s");
  const auto writable = ctx.store.check_writable();
  if (!writable) problems.push_back(writable.message());
  // A commit or claim that failed lately counts too: a one-row probe may fit where a batch of
  // runs does not (a nearly full disk), so the probe alone answered 200 while claims failed.
  const auto writes = ctx.store.write_health();
  const bool writes_failing =
      writes.failed_commits > 0 || (writes.last_failure_ms > 0 && now_ms() - writes.last_failure_ms < kRecentFailureMs);
  if (writes_failing)
    problems.push_back("state file commits are failing (" + std::to_string(writes.failed_commits) + " in a row, " +
                       std::to_string(writes.retained) + " writes waiting for a retry): " + writes.last_error);
  const auto pending = ctx.reader.approvals_count(store::ApprovalStatus::kPending);
  if (!pending) problems.push_back(pending.message());
  for (const auto& run : status.overdue)
    problems.push_back("run " + std::to_string(run.run_id) + " of job " + run.job + " is " +
                       std::to_string(run.past_deadline_ms / 1000) +
                       " s past its deadline and still holds a worker (stuck where it cannot be interrupted)");
  // Missed slots say a job did not run, not that the host cannot: shown, not a reason for 503.
  nlohmann::json missed_jobs = nlohmann::json::object();
  int missed_total = 0;
  for (const auto& [job, count] : ctx.metrics.missed_since(now_ms() - kMissedLookBackMs)) {
    missed_jobs[job] = count;
    missed_total += count;
  }
  nlohmann::json body = {{"status", problems.empty() ? "ok" : "unhealthy"},
                         {"loop_age_ms", loop_age},
                         {"state_writable", static_cast<bool>(writable) && !writes_failing},
                         {"state", {{"writable", static_cast<bool>(writable)},
                                    {"commits_ok", !writes_failing},
                                    {"failed_commits", writes.failed_commits},
                                    {"writes_waiting", writes.retained},
                                    {"writes_lost", writes.lost},
                                    {"error", !writable          ? nlohmann::json(writable.message())
                                              : writes_failing ? nlohmann::json(writes.last_error)
                                                               : nlohmann::json()}}},
                         {"jobs", ctx.registry.size()},
                         {"running", status.running},
                         {"queued", status.queued},
                         {"workers", {{"busy", status.running}, {"total", status.workers}}},
                         {"queue_oldest_age_ms", status.oldest_queued_age_ms},
                         {"overdue_runs", status.overdue.size()},
                         {"missed_last_hour", {{"total", missed_total}, {"jobs", missed_jobs}}},
                         {"pending_approvals", pending ? nlohmann::json(pending.value()) : nlohmann::json()}};
  // A table source that cannot be read is the app database's trouble, not the host's: shown,
  // not a reason for 503 (an orchestrator would restart a healthy host).
  if (ctx.table_sources)
    for (const auto& source : ctx.table_sources->status())
      body["table_sources"][source.source] = {{"db", source.db},
                                              {"ok", source.error.empty() && source.last_read_ms > 0},
                                              {"last_read_ms", source.last_read_ms},
                                              {"rows", source.rows},
                                              {"jobs", source.jobs},
                                              {"error", source.error.empty() ? nlohmann::json() : nlohmann::json(source.error)},
                                              {"rows_left_out", source.problems}};
  if (ctx.cluster) body["cluster"] = cluster_json(ctx.cluster->read());
  // Jobs whose definitions differ between hosts: said, but the host itself is fine (an
  // orchestrator restarting it would not make the files agree).
  if (ctx.definitions)
    for (const auto& drift : ctx.definitions->drifts())
      body["warnings"].push_back(dispatch::DefinitionWatch::describe(drift));
  if (!problems.empty()) body["problems"] = problems;
  reply(res, problems.empty() ? 200 : 503, body);
}

void gauge(std::string& out, const char* name, const char* help, int64_t value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
         std::to_string(value) + "\n";
}

void counter(std::string& out, const char* name, const char* help, uint64_t value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
         std::to_string(value) + "\n";
}

// The cluster's gauges come from the database (left out while it cannot be read); the
// counters are this host's own since it started.
std::string seconds(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ms) / 1000.0);
  return text;
}

void cluster_metrics(const store::ClusterStatus& c, std::string& out) {
  if (c.counts) {
    gauge(out, "cronhost_cluster_hosts_alive", "Hosts sharing the state whose heartbeat is younger than a lease.",
          c.counts->hosts_alive);
    out += "# HELP cronhost_cluster_leases_held Unfinished runs under an unexpired lease: this host's, and all hosts'.\n"
           "# TYPE cronhost_cluster_leases_held gauge\n"
           "cronhost_cluster_leases_held{owner=\"this_host\"} " + std::to_string(c.counts->leases_held_here) + "\n"
           "cronhost_cluster_leases_held{owner=\"all\"} " + std::to_string(c.counts->leases_held) + "\n";
    gauge(out, "cronhost_cluster_queue_depth", "Runs queued (claimed, not started) by any host.", c.counts->queue_depth);
    out += "# HELP cronhost_cluster_queue_oldest_age_seconds Age of the oldest queued run (0: none).\n"
           "# TYPE cronhost_cluster_queue_oldest_age_seconds gauge\n"
           "cronhost_cluster_queue_oldest_age_seconds " + seconds(c.counts->queue_oldest_age_ms) + "\n";
  }
  gauge(out, "cronhost_cluster_reaper_ready", "1 when this host's reaper reaps expired leases in its next round.",
        c.reaper_ready ? 1 : 0);
  counter(out, "cronhost_cluster_runs_reaped_total", "Runs of dead hosts this host's reaper interrupted.",
          static_cast<uint64_t>(c.runs_reaped));
  counter(out, "cronhost_cluster_late_completions_refused_total",
          "Results of this host refused because the run had been reaped meanwhile.",
          static_cast<uint64_t>(c.late_completions_refused));
  counter(out, "cronhost_cluster_claim_conflicts_total", "Claims of this host another host's claim had taken first.",
          static_cast<uint64_t>(c.claim_conflicts));
}

void metrics(const ApiContext& ctx, httplib::Response& res) {
  std::string out;
  out += "# HELP cronhost_build_info The running build.\n# TYPE cronhost_build_info gauge\n"
         "cronhost_build_info{version=\"" CRONHOST_VERSION "\"} 1\n";
  const auto status = ctx.scheduler.status();
  gauge(out, "cronhost_jobs_loaded", "Jobs the host runs (files and registered).", static_cast<int64_t>(ctx.registry.size()));
  gauge(out, "cronhost_runs_running", "Runs executing now.", static_cast<int64_t>(status.running));
  gauge(out, "cronhost_queue_depth", "Runs claimed and waiting for a worker.", static_cast<int64_t>(status.queued));
  out += "# HELP cronhost_queue_oldest_age_seconds How long the oldest run waiting for a worker has waited (0: none).\n"
         "# TYPE cronhost_queue_oldest_age_seconds gauge\ncronhost_queue_oldest_age_seconds " +
         seconds(status.oldest_queued_age_ms) + "\n";
  gauge(out, "cronhost_workers", "Runs the host executes at once (workers:).", status.workers);
  gauge(out, "cronhost_runs_overdue", "Runs more than 5 s past their deadline, still holding a worker.",
        static_cast<int64_t>(status.overdue.size()));
  if (auto outbox = ctx.reader.outbox_size())
    gauge(out, "cronhost_outbox_mails", "Mails waiting in the outbox for another attempt.", outbox.value());
  if (auto pending = ctx.reader.approvals_count(store::ApprovalStatus::kPending))
    gauge(out, "cronhost_approvals_pending", "Approvals waiting for a person.", pending.value());
  const auto writes = ctx.store.write_health();
  gauge(out, "cronhost_state_failed_commits", "State file commits that failed in the current failure streak (0: none).",
        static_cast<int64_t>(writes.failed_commits));
  gauge(out, "cronhost_state_writes_waiting", "State file writes kept for a retry after a failed commit.",
        static_cast<int64_t>(writes.retained));
  counter(out, "cronhost_state_writes_lost_total", "State file writes given up on (retry queue full, or stop deadline).",
          writes.lost);
  counter(out, "cronhost_reloads_total", "Reloads (SIGHUP).", ctx.reloads.reloads.load());
  counter(out, "cronhost_reload_failures_total", "Reloads where the config or a job file had errors.",
          ctx.reloads.failures.load());
  if (ctx.cluster) cluster_metrics(ctx.cluster->read(), out);
  ctx.metrics.render(ctx.scheduler.metrics_jobs(), out);
  render_process_stats(read_process_stats(), out);
  res.status = 200;
  res.set_content(out, "text/plain; version=0.0.4");
}

}  // namespace

void add_status_routes(Router& router, const ApiContext& ctx) {
  const auto open_or_guarded = [&](const char* path, bool open, void (*serve)(const ApiContext&, httplib::Response&)) {
    if (open) router.open_get(path, [&ctx, serve](const httplib::Request&, httplib::Response& res) { serve(ctx, res); });
    else router.get(path, Permission::kRead, [&ctx, serve](const auto&, auto& res, const Caller&) { serve(ctx, res); });
  };
  open_or_guarded("/health", ctx.settings.open_health, health);
  open_or_guarded("/metrics", ctx.settings.open_metrics, metrics);
  router.get("/api/whoami", Permission::kRead, [](const auto&, auto& res, const Caller& caller) {
    reply(res, 200, {{"name", caller.name}, {"role", role_name(caller.role)}});
  });
}

}  // namespace cronhost::server
