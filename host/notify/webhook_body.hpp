// The body a webhook POSTs, rendered from a notification event document (its shape is in
// notify/webhook_target.hpp's users: event, job, host, at, summary, run, slot, last_success_at,
// failures, url). Pure functions; thread-safe.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "util/status.hpp"

namespace cronhost::notify {

// The formats a webhook target may name, for error messages: "json, slack or teams".
extern const char* const kWebhookFormats;

// `event` as the request body for `format`:
//   json   the event document as is
//   slack  a Slack incoming-webhook message: `text` (the summary, for notifications) and blocks
//   teams  a Teams Workflows/connector message holding one Adaptive Card
// An error names the format when it is none of these.
Result<std::string> render_webhook_body(const std::string& format, const nlohmann::json& event);

}  // namespace cronhost::notify
