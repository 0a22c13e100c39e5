// Where a notification goes by webhook, and the one call that sends one: the contract between
// the notifier (notify/) and the webhook outbox, which delivers and retries.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.hpp"

namespace cronhost::store {
class Store;
}

namespace cronhost::notify {

struct WebhookTarget {
  std::string url;
  std::string format = "json";  // json (the event as is), slack or teams (their message shapes)
  std::string secret;           // HMAC-SHA256 key for the signature header; empty: unsigned
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> secret_values;  // values from ${env:}/${file:}: never logged or shown
};

// Puts one POST of `event` (a notification event document) to `target` in the webhook outbox,
// persisted in the state store, for the outbox thread to deliver and retry; returns its id.
Result<int64_t> queue_webhook(store::Store& store, const WebhookTarget& target, const nlohmann::json& event,
                              int64_t now_ms);

}  // namespace cronhost::notify
