// Everything one run needs and produces, shared by the runner and the Lua bindings.
// A RunContext belongs to the one thread executing the run; only `cancel` is written from
// other threads (the scheduler, on replace or shutdown).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/approvals.hpp"
#include "api/db_sessions.hpp"
#include "api/effects.hpp"
#include "api/http_client.hpp"
#include "api/mail_send.hpp"
#include "api/registry_client.hpp"
#include "api/run_history.hpp"
#include "api/run_kv.hpp"
#include "config/host_config.hpp"
#include "config/job_spec.hpp"
#include "run/live_output.hpp"
#include "store/records.hpp"

namespace cronhost::run {

using SteadyTime = std::chrono::steady_clock::time_point;

// Why a run was asked to stop early; set by other threads, read by the Lua hook.
enum class CancelReason : int { kNone = 0, kReplaced, kShutdown, kCancelled };

// What the run's print() and log lines collect into, up to a cap. Everything appended also
// goes to `live` (set while the host runs the run: the API streams it), past the cap too.
class OutputBuffer {
 public:
  explicit OutputBuffer(size_t limit) : limit_(limit) {}
  void append(std::string_view text) {
    if (live) live->append(text);
    if (text.size() > limit_ - std::min(limit_, out_.size())) {
      out_.append(text.substr(0, limit_ - std::min(limit_, out_.size())));
      truncated_ = true;
      return;
    }
    out_.append(text);
  }
  const std::string& text() const { return out_; }
  bool truncated() const { return truncated_; }
  std::shared_ptr<LiveOutput> live;  // null: nobody watches (dry runs, tests)

 private:
  size_t limit_;
  std::string out_;
  bool truncated_ = false;
};

inline const config::HttpSettings& default_http_settings() {
  static const config::HttpSettings settings;
  return settings;
}

struct RunLimits {
  size_t memory_bytes = size_t{64} << 20;  // 64 MiB
  size_t output_bytes = size_t{64} << 10;  // 64 KiB
  // What one run may write to the host log (log.* lines, plugin logs): a script logging in a
  // loop wrote 100+ MiB a minute there. 1,000 lines or 256 KiB of text, whichever comes first.
  size_t host_log_lines = 1000;
  size_t host_log_bytes = size_t{256} << 10;
};

struct RunContext {
  // The deadline starts now (the job's timeout from here), output is capped by `limits`, and
  // require() looks in scripts/lib beside the job's script. The caller fills in the run's
  // identity (run_id, trigger, slot, attempt), cancel and on_log.
  // Secret params and the host's secrets are redacted from everything the run shows.
  RunContext(const config::JobSpec& job_spec, RunLimits run_limits, store::Store* state,
             const config::HostConfig* host_config = nullptr, api::EffectMode mode = api::EffectMode::kLive)
      : job(job_spec),
        deadline(std::chrono::steady_clock::now() + job_spec.timeout),
        limits(run_limits),
        output(run_limits.output_bytes),
        kv(state, job_spec.name),
        host(host_config),
        effects(mode),
        state_store_(state) {
    for (const auto& pointer : job.secret_params) {
      // A manual run's params may have replaced or removed a secret's key.
      const nlohmann::json::json_pointer at(pointer);
      if (job.params.contains(at) && job.params.at(at).is_string()) redactor.add(job.params.at(at).get<std::string>());
    }
    if (job.http)
      for (const auto& [name, value] : job.http->headers)
        if (job.http->secret_headers.count(name)) redactor.add(value);
    for (const auto& secret : job.secret_values) redactor.add(secret);
    if (host)
      for (const auto& secret : host->secrets) redactor.add(secret);
  }

  const config::JobSpec& job;
  int64_t run_id = 0;
  store::Trigger trigger = store::Trigger::kSchedule;
  int64_t scheduled_for_ms = 0;
  int attempt = 1;
  std::string triggered_by;  // manual runs: the API token's name
  std::shared_ptr<const nlohmann::json> event;  // for runs a host event fired: {name, payload}
  SteadyTime deadline;
  const std::atomic<CancelReason>* cancel = nullptr;
  RunLimits limits;
  OutputBuffer output;
  api::RunKv kv;  // the run's reads and writes of its job's key-value store, committed with its outcome
  // require() loads modules only from here. Made on use: splitting the script's path on every
  // run was 2% of a host at 20,000 runs/s.
  std::filesystem::path lib_dir() const { return std::filesystem::path(job.lua_script).parent_path() / "lib"; }
  std::function<void(std::string_view level, std::string_view message)> on_log;  // into the host log
  const config::HostConfig* host = nullptr;  // smtp, databases, registries; null: none configured
  api::EffectLog effects;                     // live, or what a dry run captured
  api::Redactor redactor;

  // The run's HTTP client, made on first use; its connections are reused within the run.
  api::HttpClient& http() {
    if (!http_client)
      http_client = std::make_unique<api::HttpClient>(
          host ? host->http : default_http_settings(), deadline, [this] { return cancelled(); });
    return *http_client;
  }
  std::unique_ptr<api::HttpClient> http_client;

  // The run's open databases (db.open), made on first use; what is open closes with the run.
  api::DbSessions& databases() {
    if (!db_sessions)
      db_sessions = std::make_unique<api::DbSessions>(
          job, host, api::DbRunScope{&effects, &redactor, deadline, [this] { return cancelled(); }});
    return *db_sessions;
  }
  std::unique_ptr<api::DbSessions> db_sessions;

  // The run's registry client, made on first use: tokens it obtains serve the whole run.
  api::RegistryClient& registry() {
    static const std::map<std::string, config::RegistrySettings> kNone;
    if (!registry_client) registry_client = std::make_unique<api::RegistryClient>(http(), host ? host->registries : kNone, redactor);
    return *registry_client;
  }
  std::unique_ptr<api::RegistryClient> registry_client;

  // The host APIs that reach the state file, made on first use (bindings run after the caller
  // filled in the run's identity). Bindings get these, never the store itself.
  api::RunApprovals& approvals() {
    if (!approvals_) approvals_ = std::make_unique<api::RunApprovals>(job, state_store_, effects, redactor);
    return *approvals_;
  }
  api::RunMail& mail() {
    if (!mail_)
      mail_ = std::make_unique<api::RunMail>(api::RunMailPlace{
          job, run_id, host, state_store_, effects, redactor, deadline, [this] {
            return cancelled() || std::chrono::steady_clock::now() >= deadline;
          }});
    return *mail_;
  }
  api::RunHistory& run_history() {
    if (!run_history_) run_history_ = std::make_unique<api::RunHistory>(state_store_);
    return *run_history_;
  }

  // Everything a run shows passes through here first.
  std::string redact(std::string_view text) const { return redactor.apply(text); }

  // A log line of the job's code ("[info] text"), already redacted: into the output and, up to
  // the run's host-log cap, the host log. Past the cap one line says so, and the lines left
  // out are counted in host_log_dropped.
  void log_line(std::string_view level, const std::string& message) {
    output.append("[" + std::string(level) + "] " + message + "\n");
    if (!on_log) return;
    if (host_log_lines >= limits.host_log_lines || message.size() > limits.host_log_bytes - host_log_bytes) {
      if (host_log_dropped++ == 0)
        on_log("warn", "the run reached its host log cap (" + std::to_string(limits.host_log_lines) + " lines or " +
                           std::to_string(limits.host_log_bytes >> 10) +
                           " KiB); its further log lines are only in its output, and counted");
      return;
    }
    ++host_log_lines;
    host_log_bytes += message.size();
    on_log(level, message);
  }
  size_t host_log_lines = 0;    // written to the host log
  size_t host_log_bytes = 0;    // of their text
  size_t host_log_dropped = 0;  // left out over the cap

  // Set by the Lua hook when it stops the run, so the runner can name the status.
  enum class Stop { kNone, kTimedOut, kCancelled } stop = Stop::kNone;
  CancelReason stop_cause = CancelReason::kNone;

  bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed) != CancelReason::kNone; }
  // Records why the run must stop now (cancelled, or past its deadline); false if it need not.
  bool note_stop() {
    if (stop != Stop::kNone) return true;
    if (cancelled()) {
      stop = Stop::kCancelled;
      stop_cause = cancel->load();
    } else if (std::chrono::steady_clock::now() >= deadline) {
      stop = Stop::kTimedOut;
    }
    return stop != Stop::kNone;
  }

 private:
  store::Store* state_store_ = nullptr;  // the state file: reached only through the objects above
  std::unique_ptr<api::RunApprovals> approvals_;
  std::unique_ptr<api::RunMail> mail_;
  std::unique_ptr<api::RunHistory> run_history_;
};

// How a run ended: what the store records.
struct RunResult {
  store::RunStatus status = store::RunStatus::kSucceeded;
  std::string result_json;
  std::string error;
  std::optional<store::RunItems> items;  // reported by an HTTP runner
};

// The result of a run that was stopped (ctx.stop set): timed out, cancelled or interrupted.
RunResult stopped_result(const RunContext& ctx);

}  // namespace cronhost::run
