#include "dispatch/event_pump.hpp"

#include "util/log.hpp"

namespace cronhost::dispatch {
namespace {

// An approval made on the command line fires its jobs within this long: one indexed query.
constexpr auto kPollInterval = std::chrono::milliseconds(500);

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void EventPump::start() { thread_ = std::thread([this] { loop(); }); }

void EventPump::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventPump::loop() {
  int64_t last_id = 0;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    auto events = store_.events_after(last_id, 100);
    if (!events) log_event(spdlog::level::err, "cannot read host events", {{"error", events.message()}});
    bool going = true;
    for (const auto& event : events ? events.value() : std::vector<store::Event>{}) {
      if (!(going = fire(event, false))) break;  // stopping: left to the next start
      last_id = event.id;
    }
    if (going) fire_undelivered_again();
    lock.lock();
    wake_.wait_for(lock, kPollInterval, [this] { return stopping_; });
  }
}

bool EventPump::fire(const store::Event& event, bool again) {
  auto payload = nlohmann::json::parse(event.payload_json, nullptr, false);
  if (payload.is_discarded()) payload = nlohmann::json::object();
  const std::optional<int> fired = scheduler_.fire_event(event.name, payload, event.id);
  if (!fired) return false;
  log_event(again ? spdlog::level::warn : spdlog::level::info, again ? "host event fired again" : "host event",
            {{"event", event.name}, {"id", event.id}, {"jobs_fired", *fired}});
  if (*fired > 0) {  // delivered by its runs' claims; looked at again if they do not land
    fired_[event.id] = std::chrono::steady_clock::now() + refire_after_;
    return true;
  }
  if (auto marked = store_.event_delivered(event.id, wall_ms()); !marked) {
    log_event(spdlog::level::err, "cannot mark a host event delivered", {{"event", event.id}, {"error", marked.message()}});
    fired_[event.id] = std::chrono::steady_clock::now() + refire_after_;
  } else {
    fired_.erase(event.id);
  }
  return true;
}

void EventPump::fire_undelivered_again() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = fired_.begin(); it != fired_.end();) {
    const int64_t id = it->first;
    if (it->second > now) {
      ++it;
      continue;
    }
    auto still = store_.events_after(id - 1, 1);  // the event itself while it is undelivered
    if (!still) {
      log_event(spdlog::level::err, "cannot read host events", {{"error", still.message()}});
      return;
    }
    if (still.value().empty() || still.value().front().id != id) {
      it = fired_.erase(it);  // delivered
      continue;
    }
    ++it;  // fire() sets this event's next look; the iterator stays valid
    if (!fire(still.value().front(), true)) return;
  }
}

}  // namespace cronhost::dispatch
