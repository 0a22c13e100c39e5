// The host's webhook deliverer: takes due webhooks from the state's webhook outbox, POSTs them
// (notify/webhook_send.hpp), deletes the delivered, retries the rest with doubling delays, and
// after webhook_delivery.attempts (or a permanent refusal) keeps them as failed, logs it and
// notes it on the run the event was about. One thread; start() and stop() from the owner.
// Hosts sharing a PostgreSQL state each run one; the outbox's lock hands each webhook to one.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>

#include "config/host_config.hpp"
#include "store/state_store.hpp"

namespace cronhost::notify {

// What this host's deliverer did since it started (figures for /metrics and tests).
struct WebhookCounts {
  int64_t delivered = 0;
  int64_t retried = 0;  // attempts that failed and were scheduled again
  int64_t failed = 0;   // given up
};

class WebhookOutbox {
 public:
  // Copies the settings: a changed webhook_delivery: or http: restarts the outbox.
  WebhookOutbox(store::Store& store, config::WebhookDeliverySettings delivery, config::HttpSettings http)
      : store_(store), delivery_(std::move(delivery)), http_(std::move(http)) {}
  ~WebhookOutbox() { stop(); }
  WebhookOutbox(const WebhookOutbox&) = delete;
  WebhookOutbox& operator=(const WebhookOutbox&) = delete;

  void start();
  // Stops the thread, cutting a POST under way short (it is retried by the next start).
  void stop();
  // Delivers what is due now on the caller's thread, once (tests, and `start`'s loop).
  void deliver_due();
  WebhookCounts counts() const { return {delivered_.load(), retried_.load(), failed_.load()}; }

 private:
  void loop();
  void attempt(const store::OutboxWebhook& webhook);
  std::chrono::milliseconds retry_delay(int attempts) const;

  store::Store& store_;
  const config::WebhookDeliverySettings delivery_;  // constant after construction
  const config::HttpSettings http_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::atomic<bool> cancel_{false};  // read by a POST under way
  std::atomic<int64_t> delivered_{0}, retried_{0}, failed_{0};
};

}  // namespace cronhost::notify
