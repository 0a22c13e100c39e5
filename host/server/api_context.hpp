// What the admin API's routes work on: the daemon's parts, shared by reference. The daemon
// owns them and keeps them alive while the server runs.
#pragma once
#include <atomic>
#include <string>

#include "config/host_config.hpp"
#include "dispatch/definition_watch.hpp"
#include "dispatch/job_registry.hpp"
#include "dispatch/run_metrics.hpp"
#include "dispatch/scheduler.hpp"
#include "dispatch/table_source_reader.hpp"
#include "run/live_output.hpp"
#include "server/auth.hpp"
#include "store/pg_cluster_status.hpp"
#include "store/state_store.hpp"

namespace cronhost::server {

// Counted by the daemon's signal thread, shown by /metrics.
struct ReloadCounters {
  std::atomic<uint64_t> reloads{0};
  std::atomic<uint64_t> failures{0};  // reloads where the config or a job file had errors
};

struct ApiContext {
  const config::ServerSettings& settings;
  store::Store& store;   // writes (approvals, audit) and the writability check
  store::Store& reader;  // reads, on their own connection: never queued behind the runs' writes
  dispatch::Scheduler& scheduler;
  dispatch::JobRegistry& registry;
  const dispatch::RunMetrics& metrics;
  const ReloadCounters& reloads;
  const dispatch::TableSourceReader* table_sources = nullptr;  // for /health; null: none
  // Hosts sharing a PostgreSQL state: /health's cluster object and the cronhost_cluster_*
  // metrics; null on SQLite.
  store::PgClusterStatus* cluster = nullptr;
  const dispatch::DefinitionWatch* definitions = nullptr;  // /health's warnings; null: none
  // The output of the runs going on this host (GET /api/runs/{id}/output/stream); null: the
  // stream sends a run's stored output once it has ended.
  const run::LiveOutputs* live_outputs = nullptr;

  // Records an audited action (trigger, enable, approve, ...) with the caller's name; a
  // failure to write it is logged, not returned: the action already happened.
  void audit(const Caller& caller, const std::string& action, const std::string& target,
             const nlohmann::json& detail = nullptr) const;
  // The log line of an audited action whose audit row the store wrote itself (approvals:
  // the row commits with the decision).
  void log_action(const Caller& caller, const std::string& action, const std::string& target) const;
};

}  // namespace cronhost::server
