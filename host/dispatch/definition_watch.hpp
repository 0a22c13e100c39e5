// No silent drift between hosts sharing a store: each host publishes the hash of every job's
// definition as it loaded it (dispatch/definition_hash.hpp) and reads which jobs' hashes
// differ between live hosts. A job that starts to differ (or differs in another way) is
// logged once, "job definition differs between hosts", with each host's name and hash; one
// that agrees again is logged once too; /health lists those that differ now as warnings. On a
// store no one shares nothing is published and nothing differs. One thread; drifts() may be
// called from any.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dispatch/definition_hash.hpp"
#include "dispatch/job_registry.hpp"
#include "store/state_store.hpp"

namespace cronhost::dispatch {

class DefinitionWatch {
 public:
  struct Timing {
    // How often the hashes are computed again though the registry did not change (a script
    // edited without a reload runs its new text): a stat per job, contents read only when a
    // file's size or time changed.
    std::chrono::milliseconds rehash{10'000};
    // How often the differences are read, besides right after this host published.
    std::chrono::milliseconds compare{5'000};
    std::chrono::milliseconds tick{1'000};  // how often the registry's generation is looked at
  };
  // `store` publishes and compares (the daemon's, which knows this host's id and lease).
  // Both must outlive the watch.
  DefinitionWatch(store::AdminStore& store, const JobRegistry& registry, Timing timing);
  DefinitionWatch(store::AdminStore& store, const JobRegistry& registry) : DefinitionWatch(store, registry, Timing{}) {}
  ~DefinitionWatch() { stop(); }
  DefinitionWatch(const DefinitionWatch&) = delete;
  DefinitionWatch& operator=(const DefinitionWatch&) = delete;

  void start();
  void stop();

  // The jobs whose definitions differ between live hosts, as last read.
  std::vector<store::DefinitionDrift> drifts() const;
  // "job backup: its definition differs between hosts: a/12 (0123...), b/34 (4567...)"
  static std::string describe(const store::DefinitionDrift& drift);

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  void loop();
  void look(SteadyTime now);
  bool publish(SteadyTime now);  // true: something new was published
  void compare();

  store::AdminStore& store_;
  const JobRegistry& registry_;
  const Timing timing_;
  // The thread only:
  DefinitionHasher hasher_;
  std::optional<uint64_t> hashed_generation_;
  SteadyTime hashed_at_{}, compared_at_{};
  std::map<std::string, std::string> published_;  // job -> hash, as the store has it
  bool publish_failing_ = false, compare_failing_ = false;

  mutable std::mutex mutex_;
  std::map<std::string, store::DefinitionDrift> drifts_;  // guarded by mutex_
  bool stopping_ = false;                                 // guarded by mutex_
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace cronhost::dispatch
