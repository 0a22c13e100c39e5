#include "config/host_config_changes.hpp"

#include <algorithm>

namespace cronhost::config {
namespace {

// Field by field: the settings structs are plain data without operator==.
bool same(const SmtpSettings& a, const SmtpSettings& b) {
  return a.host == b.host && a.port == b.port && a.tls == b.tls && a.user == b.user && a.password == b.password &&
         a.from == b.from && a.timeout == b.timeout && a.ca_file == b.ca_file && a.attempts == b.attempts &&
         a.backoff == b.backoff && a.max_backoff == b.max_backoff && a.dead_letter == b.dead_letter;
}
bool same(const std::optional<SmtpSettings>& a, const std::optional<SmtpSettings>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}
bool same(const DatabaseSettings& a, const DatabaseSettings& b) {
  return a.engine == b.engine && a.sqlite == b.sqlite && a.url == b.url && a.password == b.password &&
         a.tls.mode == b.tls.mode && a.tls.ca == b.tls.ca && a.connect_timeout == b.connect_timeout &&
         a.readonly == b.readonly;
}
bool same(const RegistrySettings& a, const RegistrySettings& b) {
  return a.url == b.url && a.user == b.user && a.password == b.password;
}
template <typename V>
bool same(const std::map<std::string, V>& a, const std::map<std::string, V>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.first == y.first && same(x.second, y.second); });
}
bool same(const HttpSettings& a, const HttpSettings& b) {
  return a.ca_file == b.ca_file && a.max_response_bytes == b.max_response_bytes && a.max_redirects == b.max_redirects;
}
bool same(const WebhookDeliverySettings& a, const WebhookDeliverySettings& b) {
  return a.attempts == b.attempts && a.backoff == b.backoff && a.max_backoff == b.max_backoff && a.timeout == b.timeout;
}
bool same(const LogSettings& a, const LogSettings& b) {
  return a.level == b.level && a.format == b.format && a.file == b.file && a.keep == b.keep &&
         a.rotate == b.rotate && a.max_size_bytes == b.max_size_bytes;
}
bool same(const std::vector<ApiToken>& a, const std::vector<ApiToken>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const ApiToken& x, const ApiToken& y) {
    return x.name == y.name && x.role == y.role && x.token == y.token;
  });
}

}  // namespace

HostConfigChanges compare_host_configs(const HostConfig& a, const HostConfig& b) {
  HostConfigChanges changes;
  const auto note = [](std::vector<std::string>& list, bool differs, const char* key) {
    if (differs) list.emplace_back(key);
  };
  // Taken by the next run (each run keeps the snapshot it started with), the next reload or
  // the next prune.
  auto& now = changes.applied;
  note(now, a.timezone->name() != b.timezone->name(), "timezone");
  note(now, !same(a.smtp, b.smtp), "smtp");
  note(now, !same(a.webhook_delivery, b.webhook_delivery), "webhook_delivery");
  note(now, !same(a.databases, b.databases), "databases");
  note(now, !same(a.registries, b.registries), "registries");
  note(now, !same(a.http, b.http), "http");
  note(now, a.shutdown_grace != b.shutdown_grace, "shutdown_grace");
  note(now, a.history_keep_days != b.history_keep_days || a.history_keep_per_job != b.history_keep_per_job, "history");
  note(now, a.metrics_max_jobs != b.metrics_max_jobs, "metrics");
  note(now, !same(a.server.tokens, b.server.tokens), "server.tokens");
  note(now, a.server.registration_urls != b.server.registration_urls, "server.registration");
  note(now, !notify::same_block(a.notify, b.notify), "notify");  // read at each notification
  note(now, a.server.public_url != b.server.public_url, "server.public_url");
  // Fixed for the life of the process: the worker pool, the state file, the log sinks, the
  // run limits the scheduler copied, and the listening API server.
  auto& later = changes.need_restart;
  note(later, a.workers != b.workers, "workers");
  note(later, a.state_file != b.state_file || a.state_server.has_value() != b.state_server.has_value() ||
                  (a.state_server && !same(*a.state_server, *b.state_server)),
       "state");
  note(later, a.cluster_lease != b.cluster_lease, "cluster.lease");
  note(later, a.jobs_dir != b.jobs_dir, "jobs");
  note(later, !same(a.log, b.log), "log");
  note(later, a.run_memory_bytes != b.run_memory_bytes || a.run_output_bytes != b.run_output_bytes, "limits");
  const ServerSettings& x = a.server;
  const ServerSettings& y = b.server;
  note(later, x.enabled != y.enabled, "server.enabled");
  note(later, x.host != y.host || x.port != y.port, "server.listen");
  note(later, x.port_file != y.port_file, "server.port_file");
  note(later, x.tls_cert != y.tls_cert || x.tls_key != y.tls_key, "server.tls");
  note(later, x.open_health != y.open_health || x.open_metrics != y.open_metrics, "server.open");
  note(later, x.max_body_bytes != y.max_body_bytes, "server.max_body_kb");
  note(later, x.threads != y.threads, "server.threads");
  note(later, x.dashboard_dir != y.dashboard_dir, "server.dashboard_dir");
  return changes;
}

}  // namespace cronhost::config
