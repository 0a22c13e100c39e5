// How a webhook target is kept in its outbox row (store::OutboxWebhook::target_json) and what
// of it must never show. Pure functions; thread-safe.
#pragma once
#include <nlohmann/json.hpp>

#include "api/effects.hpp"
#include "notify/webhook_target.hpp"

namespace cronhost::notify {

// Hides the target's secret and its secret values (from ${env:}/${file:}) in any text.
api::Redactor webhook_redactor(const WebhookTarget& target);

// {url, format, secret, headers: [[name, value]], secret_values} and back; what is missing or
// of another type is left at its default.
nlohmann::json webhook_target_to_json(const WebhookTarget& target);
WebhookTarget webhook_target_from_json(const nlohmann::json& doc);

}  // namespace cronhost::notify
