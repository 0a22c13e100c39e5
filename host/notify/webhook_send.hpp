// One webhook POST: the signature, the request and what its answer means for the outbox
// (delivered, retry later, or give up). Thread-safe: each call has its own curl handle.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config/host_config.hpp"
#include "notify/webhook_target.hpp"

namespace cronhost::notify {

// "sha256=" and the lower-case hex HMAC-SHA256 under `secret` of "<timestamp>.<body>": the
// X-Cronhost-Signature header; `timestamp` is X-Cronhost-Timestamp, Unix seconds as text.
std::string webhook_signature(const std::string& secret, const std::string& timestamp, const std::string& body);

struct WebhookSendResult {
  bool delivered = false;          // a 2xx answer
  bool permanent = false;          // not worth retrying: a 4xx other than 408/429, a redirect elsewhere
  std::optional<int> status;       // the HTTP status, when an answer came
  std::optional<std::chrono::milliseconds> retry_after;  // the answer's Retry-After, in seconds
  std::string error;               // empty when delivered; secrets already hidden
};

struct WebhookRequest {
  const WebhookTarget* target = nullptr;
  std::string body;
  int64_t delivery_id = 0;  // X-Cronhost-Delivery: the same on every attempt, for receivers to dedupe
  std::string event;        // X-Cronhost-Event
  int64_t now_seconds = 0;  // X-Cronhost-Timestamp
};

// POSTs `request.body` (application/json) to the target's URL within `timeout`, with its
// headers and, when it has a secret, the signature headers. A redirect is followed only to the
// same scheme, host and port (at most http.max_redirects); one elsewhere is refused
// (permanent). TLS is verified (http.ca_file adds a CA); libcurl's proxy variables apply as
// for jobs' http calls. `cancelled` returning true stops the request (the host stopping).
WebhookSendResult send_webhook(const WebhookRequest& request, const config::HttpSettings& http,
                               std::chrono::milliseconds timeout, std::function<bool()> cancelled);

}  // namespace cronhost::notify
