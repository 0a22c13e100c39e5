#include "dispatch/catalog_watch.hpp"

#include "util/log.hpp"

namespace cronhost::dispatch {

void CatalogWatch::start() { thread_ = std::thread([this] { loop(); }); }

void CatalogWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CatalogWatch::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    look();
    lock.lock();
    wake_.wait_for(lock, every_, [this] { return stopping_; });
  }
}

void CatalogWatch::look() {
  auto version = versions_.catalog_version();
  Status status = version ? Status::ok() : Status::error(version.message());
  if (version && seen_ != version.value()) {
    // The first round reads the catalog too (unless it never changed): a change made between
    // the registry's start and now.
    if (!seen_ && version.value() == 0) seen_ = 0;
    else if (status = registry_.refresh(); status) seen_ = version.value();
  }
  if (status) {
    if (failing_) log_event(spdlog::level::info, "reading the shared job catalog succeeds again");
    failing_ = false;
    return;
  }
  if (failing_) return;
  failing_ = true;
  log_event(spdlog::level::err, "cannot read the shared job catalog; keeping the jobs as they are",
            {{"error", status.message()}});
}

}  // namespace cronhost::dispatch
