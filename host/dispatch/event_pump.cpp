#include "dispatch/event_pump.hpp"

#include "util/log.hpp"

namespace cronhost::dispatch {
namespace {

// An approval made on the command line fires its jobs within this long: one indexed query.
constexpr auto kPollInterval = std::chrono::milliseconds(500);

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
    for (const auto& event : events ? events.value() : std::vector<store::Event>{}) {
      auto payload = nlohmann::json::parse(event.payload_json, nullptr, false);
      if (payload.is_discarded()) payload = nlohmann::json::object();
      const int fired = scheduler_.fire_event(event.name, payload);
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
      if (auto delivered = store_.event_delivered(event.id, now); !delivered)
        log_event(spdlog::level::err, "cannot mark a host event delivered", {{"event", event.id}, {"error", delivered.message()}});
      log_event(spdlog::level::info, "host event", {{"event", event.name}, {"id", event.id}, {"jobs_fired", fired}});
      last_id = event.id;
    }
    lock.lock();
    wake_.wait_for(lock, kPollInterval, [this] { return stopping_; });
  }
}

}  // namespace cronhost::dispatch
