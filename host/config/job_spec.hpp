// A validated job definition: plain data built by the job loader and read by everything
// after it. Copyable; immutable once built.
#pragma once
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/trigger_params.hpp"
#include "notify/notify_spec.hpp"
#include "schedule/schedule.hpp"
#include "util/boxed.hpp"
#include "util/duration.hpp"

namespace cronhost::config {

enum class Concurrency { kForbid, kAllow, kReplace };
enum class CatchupPolicy { kSkip, kLatest, kAll };
// Where a run's code executes: in the host process, or in a sandboxed child process.
enum class Isolation { kInline, kProcess };

struct RetryPolicy {
  int attempts = 1;  // total, including the first
  Millis backoff = std::chrono::seconds(30);
  Millis max_backoff = std::chrono::minutes(10);
};

struct CatchupRule {
  CatchupPolicy policy = CatchupPolicy::kLatest;
  Millis window = std::chrono::hours(1);
  int max_runs = 100;
};

// What the job's code may reach (allow:); everything else is denied. Checked by api/permissions.
struct Allowlist {
  std::vector<std::string> http;                   // URL patterns: scheme://host[:port][/path][*]
  bool mail_anyone = false;                        // mail: true
  std::vector<std::string> mail;                   // else recipient patterns such as *@acme.test
  std::vector<std::string> db;                     // database names from the host config
  std::vector<std::filesystem::path> files;        // folders, absolute and normalized
  std::vector<std::string> registry;               // image patterns such as ghcr.io/acme/*
  std::vector<std::string> approvals;              // jobs whose approvals it may use besides its own; "*": all
  std::vector<std::string> storage;                // object store names from the host config
};

// run: {http: ...}: the host calls a service with a JobContext and reads its JobResult.
struct HttpRunner {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::set<std::string> secret_headers;  // names whose values came from ${env:}/${file:}
  std::optional<Millis> timeout;         // unset: the job's timeout
};

// A table source's writeback (config/table_source.hpp): after each run of a job a row made,
// one statement on the source's database keeps the app's own columns current.
struct WritebackArg {
  std::string field;     // run.started_at, run.finished_at, run.status, run.id, run.duration_ms, job.next_fire, job.name
  nlohmann::json value;  // when field is empty: the row's value, put in when the job was made
};
struct Writeback {
  std::string db;
  std::string sql;  // one statement with ? placeholders
  std::vector<WritebackArg> args;
};

struct JobSpec {
  std::string name;
  std::string file;  // as given to the loader, for messages
  std::string description;
  schedule::Schedule schedule;
  std::string lua_script;            // absolute; empty for a plugin or HTTP job. Text: a path keeps each
                                     // element as a path of its own, ~250 B more a job (25 MB at 100,000)
  std::filesystem::path plugin;      // the plugin shared object, absolute; empty for a Lua job
  Boxed<HttpRunner> http;            // set for an HTTP job
  Isolation isolation = Isolation::kInline;
  uint64_t memory_bytes = uint64_t{512} << 20;  // address-space limit of an isolated run
  nlohmann::json params = nlohmann::json::object();
  std::set<std::string> secret_params;  // JSON pointers into params that came from ${env:}/${file:}
  TriggerParams trigger_params;         // which params a manual trigger may set (none by default)
  std::vector<std::string> secret_values;  // each value ${env:}/${file:} put in: redacted on its own too
  Millis timeout = std::chrono::hours(1);
  RetryPolicy retries;
  Concurrency concurrency = Concurrency::kForbid;
  std::optional<int> max_instances;  // only with kAllow; unset: limited by the workers
  CatchupRule catchup;
  bool enabled = true;
  Allowlist allow;
  Boxed<Writeback> writeback;  // jobs made by a table source that asks for one
  // As written; merged over the host's default when an event comes. Boxed: most jobs have no
  // notify: block, and one held inline was 184 bytes in each (18 MB at 100,000 jobs).
  Boxed<notify::NotifyBlock> notify_block;
  const notify::NotifyBlock& notify() const {
    static const notify::NotifyBlock kNone;
    return notify_block ? *notify_block : kNone;
  }

  // params with every secret value replaced by "***": the only form that may be printed.
  nlohmann::json printable_params() const {
    nlohmann::json copy = params;
    for (const auto& pointer : secret_params)
      if (copy.contains(nlohmann::json::json_pointer(pointer))) copy[nlohmann::json::json_pointer(pointer)] = "***";
    return copy;
  }
};

std::string_view to_string(Concurrency c);
std::string_view to_string(CatchupPolicy p);
std::string_view to_string(Isolation i);

}  // namespace cronhost::config
