// Object stores as a run uses them (storage.* in Lua and the plugin vtable's storage call):
// the store must be in the host config (storage:) and in allow.storage, files come from and
// go to allow.files (api/beneath), and the dry-run rule: list is performed (refused offline),
// put, get, delete and prune's deletions are captured with store, key and size and answer
// as the live run would. Keys and prefixes are checked here. The one implementation;
// adapters only convert arguments and results.
//
// Failures: kMisuse for a store not allowed or not configured, a bad key, a path outside
// allow.files, bad options (raised in Lua); kFailed for what the store or the network said,
// "storage: NAME: <what the store said>" (nil, err in Lua). Secrets are redacted from every
// message. Belongs to the run's thread.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/call_result.hpp"
#include "api/db_connection.hpp"
#include "api/object_store.hpp"
#include "config/host_config.hpp"
#include "config/job_spec.hpp"
#include "util/clock.hpp"

namespace cronhost::api {

// put's source: a file beneath allow.files, or the bytes themselves.
struct StorageSource {
  std::optional<std::string> path;
  std::optional<std::string> content;
};

struct StoragePutAnswer {
  std::string key;
  uint64_t bytes = 0;
  int parts = 1;
  bool dry_run = false;
};

struct StorageGetAnswer {
  std::string path;
  uint64_t bytes = 0;
  bool dry_run = false;
};

// prune's options as given: keep the newest `keep` whatever their age, of the others delete
// those older than `older_than` seconds (all of them without it). One of the two is required.
struct StoragePruneOptions {
  std::optional<double> older_than;
  std::optional<double> keep;
};

class RunStorage {
 public:
  // `clock` dates prune's ages.
  RunStorage(const config::JobSpec& job, const config::HostConfig* host, DbRunScope scope,
             const Clock& clock = SystemClock::instance());

  CallResult<StoragePutAnswer> put(const std::string& store, const std::string& key, const StorageSource& source,
                                   const PutOptions& options);
  // Into `path` (beneath allow.files), replaced atomically: the whole object or nothing.
  CallResult<StorageGetAnswer> get(const std::string& store, const std::string& key, const std::string& path);
  CallResult<std::vector<ObjectInfo>> list(const std::string& store, const std::string& prefix);
  CallResult<CallDone> remove(const std::string& store, const std::string& key);
  // The keys deleted (or, in a dry run, that would be).
  CallResult<std::vector<std::string>> prune(const std::string& store, const std::string& prefix,
                                             const StoragePruneOptions& options);

  // Why a key, prefix or metadata name cannot be used; ok when it can.
  static Status check_key(const std::string& key);
  static Status check_prefix(const std::string& prefix);
  static Status check_metadata_name(const std::string& name);

 private:
  // The store's settings if the job may use it; the misuse otherwise.
  CallResult<const config::StorageSettings*> allowed(const std::string& function, const std::string& store) const;
  template <typename T>
  CallResult<T> store_failed(const std::string& store, const std::string& message) const;
  void capture(const std::string& summary, nlohmann::json detail);

  const config::JobSpec& job_;
  const config::HostConfig* host_;
  DbRunScope scope_;
  const Clock& clock_;
};

}  // namespace cronhost::api
