// Stands in for the webhook outbox until it is merged (branch wip-webhook implements
// queue_webhook): a webhook notification is refused with a message saying so. Delete this
// file when merging the real implementation.
#include "notify/webhook_target.hpp"

namespace cronhost::notify {

Result<int64_t> queue_webhook(store::Store& store, const WebhookTarget& target, const nlohmann::json& event,
                              int64_t now_ms) {
  (void)store, (void)target, (void)event, (void)now_ms;
  return Result<int64_t>::error("webhook delivery is not built into this cronhost yet");
}

}  // namespace cronhost::notify
