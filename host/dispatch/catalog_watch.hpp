// Keeps the jobs' overrides and registrations the same on every host sharing a store: a
// change made through one host's API (pause, resume, a schedule, a registration) raises the
// store's catalog version (store/state_store.hpp), and each host's watch reads that version
// every second and, when it moved, has the registry read them again (JobRegistry::refresh).
// A store no one shares keeps version 0: the watch then reads a number each second, nothing
// more. One thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "dispatch/job_registry.hpp"
#include "store/state_store.hpp"

namespace cronhost::dispatch {

class CatalogWatch {
 public:
  // `versions` is read every `every`: a reader's connection does, so the read never waits
  // behind the runs' writes. Both must outlive the watch.
  CatalogWatch(store::AdminStore& versions, JobRegistry& registry,
               std::chrono::milliseconds every = std::chrono::seconds(1))
      : versions_(versions), registry_(registry), every_(every) {}
  ~CatalogWatch() { stop(); }
  CatalogWatch(const CatalogWatch&) = delete;
  CatalogWatch& operator=(const CatalogWatch&) = delete;

  void start();
  void stop();

 private:
  void loop();
  void look();  // one round: the version, then a refresh if it moved

  store::AdminStore& versions_;
  JobRegistry& registry_;
  const std::chrono::milliseconds every_;
  std::optional<int64_t> seen_;  // the thread only: the version the registry holds
  bool failing_ = false;         // the thread only: said once per streak
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
};

}  // namespace cronhost::dispatch
