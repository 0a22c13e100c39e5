#include "notify/webhook_outbox.hpp"

#include <algorithm>

#include "notify/webhook_send.hpp"
#include "notify/webhook_stored.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace cronhost::notify {
namespace {

// A webhook queued by a run is noticed within this long; the query is one indexed lookup.
constexpr auto kPollInterval = std::chrono::seconds(1);
// Taken at once per pass: a pass sends them one after another, each within the timeout.
constexpr int kBatch = 20;

}  // namespace

void WebhookOutbox::start() {
  cancel_ = false;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void WebhookOutbox::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cancel_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookOutbox::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    deliver_due();
    auto wait = std::chrono::milliseconds(kPollInterval);
    if (auto next = store_.webhook_next_attempt())
      wait = std::clamp(std::chrono::milliseconds(*next - now_ms()), std::chrono::milliseconds(0), wait);
    lock.lock();
    wake_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

void WebhookOutbox::deliver_due() {
  auto due = store_.webhook_due(now_ms(), kBatch);
  if (!due) {
    log_event(spdlog::level::err, "cannot read the webhook outbox", {{"error", due.message()}});
    return;
  }
  for (const auto& webhook : due.value()) {
    if (cancel_) return;  // the rest stay locked until their lock runs out, then any host sends them
    attempt(webhook);
  }
}

std::chrono::milliseconds WebhookOutbox::retry_delay(int attempts) const {
  auto delay = delivery_.backoff;
  for (int i = 1; i < attempts && delay < delivery_.max_backoff; ++i) delay *= 2;
  return std::min(delay, delivery_.max_backoff);
}

void WebhookOutbox::attempt(const store::OutboxWebhook& webhook) {
  const WebhookTarget target = webhook_target_from_json(nlohmann::json::parse(webhook.target_json, nullptr, false));
  const int attempts = webhook.attempts + 1;
  WebhookRequest request{&target, webhook.body, webhook.id, webhook.event, now_ms() / 1000};
  const WebhookSendResult sent = send_webhook(request, http_, delivery_.timeout, [this] { return cancel_.load(); });
  const nlohmann::json fields = {{"job", webhook.job}, {"event", webhook.event}, {"url", webhook.url},
                                 {"attempts", attempts}, {"id", webhook.id}};
  if (sent.delivered) {
    if (auto done = store_.webhook_delivered(webhook.id); !done)
      log_event(spdlog::level::err, "cannot remove a delivered webhook from the outbox", {{"error", done.message()}});
    ++delivered_;
    log_event(spdlog::level::info, "webhook delivered", fields);
    return;
  }
  if (cancel_) {  // the host is stopping: not the receiver's fault, so not an attempt
    (void)store_.webhook_retry_at(webhook.id, webhook.attempts, now_ms(), webhook.last_error, webhook.last_status);
    return;
  }
  nlohmann::json failure = fields;
  failure["error"] = sent.error;
  if (sent.status) failure["status"] = *sent.status;
  if (sent.permanent || attempts >= delivery_.attempts) {
    (void)store_.webhook_give_up(webhook.id, attempts, sent.error, sent.status, now_ms());
    ++failed_;
    if (webhook.run_id)
      (void)store_.run_add_note(*webhook.run_id, "webhook " + webhook.event + " to " + webhook.url +
                                                     " was not delivered after " + std::to_string(attempts) +
                                                     (attempts == 1 ? " attempt" : " attempts") + " (" + sent.error +
                                                     "); kept as failed in the webhook outbox");
    failure["permanent"] = sent.permanent;
    log_event(spdlog::level::err, "webhook given up", failure);
    return;
  }
  auto delay = retry_delay(attempts);
  if (sent.retry_after) delay = std::clamp(*sent.retry_after, delay, std::max(delay, delivery_.max_backoff));
  (void)store_.webhook_retry_at(webhook.id, attempts, now_ms() + delay.count(), sent.error, sent.status);
  ++retried_;
  failure["retry_in_ms"] = delay.count();
  log_event(spdlog::level::warn, "webhook not delivered, will retry", failure);
}

}  // namespace cronhost::notify
