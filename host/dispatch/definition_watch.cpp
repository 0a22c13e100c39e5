#include "dispatch/definition_watch.hpp"

#include "util/log.hpp"

namespace cronhost::dispatch {
namespace {

std::string hosts_text(const store::DefinitionDrift& drift) {
  std::string text;
  for (const auto& [host, hash] : drift.hosts) text += (text.empty() ? "" : ", ") + host + " (" + hash + ")";
  return text;
}

}  // namespace

DefinitionWatch::DefinitionWatch(store::AdminStore& store, const JobRegistry& registry, Timing timing)
    : store_(store), registry_(registry), timing_(timing) {}

void DefinitionWatch::start() { thread_ = std::thread([this] { loop(); }); }

void DefinitionWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<store::DefinitionDrift> DefinitionWatch::drifts() const {
  std::lock_guard lock(mutex_);
  std::vector<store::DefinitionDrift> out;
  for (const auto& [job, drift] : drifts_) out.push_back(drift);
  return out;
}

std::string DefinitionWatch::describe(const store::DefinitionDrift& drift) {
  return "job " + drift.job + ": its definition differs between hosts: " + hosts_text(drift);
}

void DefinitionWatch::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    look(std::chrono::steady_clock::now());
    lock.lock();
    wake_.wait_for(lock, timing_.tick, [this] { return stopping_; });
  }
}

void DefinitionWatch::look(SteadyTime now) {
  const bool published = publish(now);
  if (published || now - compared_at_ >= timing_.compare) {
    compared_at_ = now;
    compare();
  }
}

bool DefinitionWatch::publish(SteadyTime now) {
  const uint64_t generation = registry_.generation();
  if (hashed_generation_ == generation && now - hashed_at_ < timing_.rehash) return false;
  std::map<std::string, std::string> hashes;
  for (const auto& view : registry_.list())  // as defined: overrides are shared already
    if (view.defined) hashes[view.defined->name] = hasher_.hash(*view.defined);
  hashed_generation_ = generation;
  hashed_at_ = now;
  if (hashes == published_) return false;
  std::vector<store::DefinitionHash> rows;
  rows.reserve(hashes.size());
  for (const auto& [job, hash] : hashes) rows.push_back({job, hash});
  if (auto saved = store_.publish_definitions(rows); !saved) {
    hashed_generation_.reset();  // tried again next tick
    if (!publish_failing_)
      log_event(spdlog::level::warn, "cannot publish this host's job definitions", {{"error", saved.message()}});
    publish_failing_ = true;
    return false;
  }
  publish_failing_ = false;
  published_ = std::move(hashes);
  return true;
}

void DefinitionWatch::compare() {
  auto read = store_.definition_drift();
  if (!read) {
    if (!compare_failing_)
      log_event(spdlog::level::warn, "cannot compare job definitions with the other hosts", {{"error", read.message()}});
    compare_failing_ = true;
    return;  // the last differences stand
  }
  compare_failing_ = false;
  std::map<std::string, store::DefinitionDrift> now;
  for (auto& drift : read.value()) now[drift.job] = std::move(drift);
  std::lock_guard lock(mutex_);
  for (const auto& [job, drift] : now) {
    const auto before = drifts_.find(job);
    if (before != drifts_.end() && before->second.hosts == drift.hosts) continue;  // said already
    log_event(spdlog::level::warn, "job definition differs between hosts", {{"job", job}, {"hosts", hosts_text(drift)}});
  }
  for (const auto& [job, drift] : drifts_)
    if (!now.count(job)) log_event(spdlog::level::info, "job definition agrees between hosts again", {{"job", job}});
  drifts_ = std::move(now);
}

}  // namespace cronhost::dispatch
