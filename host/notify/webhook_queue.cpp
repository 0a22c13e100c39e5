// queue_webhook (notify/webhook_target.hpp): renders the body now and stores it with its
// target in the webhook outbox, where notify::WebhookOutbox delivers it. The body is signed
// only when sent, so that the signature's timestamp is the delivery's.
#include <curl/curl.h>

#include "api/effects.hpp"
#include "notify/webhook_body.hpp"
#include "notify/webhook_stored.hpp"
#include "notify/webhook_target.hpp"
#include "store/state_store.hpp"

namespace cronhost::notify {
namespace {

// An http(s) URL with a host; the message shows the URL only with its secrets hidden.
Status check_url(const std::string& url, const std::string& shown) {
  CURLU* parsed = curl_url();
  char* scheme = nullptr;
  char* host = nullptr;
  const bool ok = curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
                  curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                  curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK;
  const std::string scheme_text = scheme ? scheme : "";
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(parsed);
  if (!ok || (scheme_text != "http" && scheme_text != "https"))
    return Status::error("webhook url \"" + shown + "\" is not an http:// or https:// URL with a host");
  return Status::ok();
}

}  // namespace

api::Redactor webhook_redactor(const WebhookTarget& target) {
  api::Redactor redactor;
  for (const auto& value : target.secret_values) redactor.add(value);
  if (!target.secret.empty()) redactor.add(target.secret);
  return redactor;
}

nlohmann::json webhook_target_to_json(const WebhookTarget& target) {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [name, value] : target.headers) headers.push_back({name, value});
  return {{"url", target.url},
          {"format", target.format},
          {"secret", target.secret},
          {"headers", headers},
          {"secret_values", target.secret_values}};
}

WebhookTarget webhook_target_from_json(const nlohmann::json& doc) {
  WebhookTarget target;
  if (!doc.is_object()) return target;
  target.url = doc.value("url", std::string());
  target.format = doc.value("format", std::string("json"));
  target.secret = doc.value("secret", std::string());
  if (doc.contains("headers") && doc["headers"].is_array())
    for (const auto& pair : doc["headers"])
      if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string())
        target.headers.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  if (doc.contains("secret_values") && doc["secret_values"].is_array())
    for (const auto& value : doc["secret_values"])
      if (value.is_string()) target.secret_values.push_back(value.get<std::string>());
  return target;
}

Result<int64_t> queue_webhook(store::Store& store, const WebhookTarget& target, const nlohmann::json& event,
                              int64_t now_ms) {
  const api::Redactor redactor = webhook_redactor(target);
  const std::string shown_url = redactor.apply(target.url);
  if (auto ok = check_url(target.url, shown_url); !ok) return Result<int64_t>::error(ok.message());
  auto body = render_webhook_body(target.format, event);
  if (!body) return Result<int64_t>::error(body.message());

  store::OutboxWebhook row;
  row.job = event.is_object() ? event.value("job", std::string()) : "";
  row.event = event.is_object() ? event.value("event", std::string()) : "";
  if (event.contains("run") && event["run"].is_object() && event["run"].contains("id") && event["run"]["id"].is_number_integer())
    row.run_id = event["run"]["id"].get<int64_t>();
  row.format = target.format;
  row.body = std::move(body).value();
  row.target_json = webhook_target_to_json(target).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  row.url = shown_url;
  row.next_attempt_at = now_ms;
  auto id = store.webhook_add(row, now_ms);
  if (!id) return Result<int64_t>::error(redactor.apply(id.message()));
  return id;
}

}  // namespace cronhost::notify
