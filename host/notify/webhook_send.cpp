#include "notify/webhook_send.hpp"

#include <cctype>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/http_client.hpp"
#include "notify/webhook_stored.hpp"

namespace cronhost::notify {
namespace {

// The answer's body quoted in an error, enough to show a receiver's reason.
constexpr size_t kQuotedBodyChars = 200;
// A receiver's answer is read up to this much: only its status matters.
constexpr size_t kMaxAnswerBytes = 1 << 20;

// scheme://host:port of `url` (the port filled in from the scheme), or "" if it does not parse.
std::string origin_of(const std::string& url) {
  CURLU* parsed = curl_url();
  std::string origin;
  char *scheme = nullptr, *host = nullptr, *port = nullptr;
  if (curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
    origin = std::string(scheme) + "://" + host + ":" + port;
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(parsed);
  for (char& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return origin;
}

std::optional<std::chrono::milliseconds> retry_after(const std::string& value) {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || value.size() > 7) return std::nullopt;
  return std::chrono::seconds(std::stoll(value));  // an HTTP date is not honoured: the backoff applies
}

}  // namespace

std::string webhook_signature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  const std::string text = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &size);
  static const char* const kHex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xF];
  }
  return out;
}

WebhookSendResult send_webhook(const WebhookRequest& request, const config::HttpSettings& http,
                               std::chrono::milliseconds timeout, std::function<bool()> cancelled) {
  const WebhookTarget& target = *request.target;
  const api::Redactor redactor = webhook_redactor(target);
  WebhookSendResult result;

  api::HttpRequest post;
  post.method = "POST";
  post.url = target.url;
  post.body = request.body;
  post.timeout = timeout;
  post.max_bytes = kMaxAnswerBytes;
  post.headers.emplace_back("Content-Type", "application/json");
  post.headers.emplace_back("X-Cronhost-Delivery", std::to_string(request.delivery_id));
  if (!request.event.empty()) post.headers.emplace_back("X-Cronhost-Event", request.event);
  if (!target.secret.empty()) {
    const std::string timestamp = std::to_string(request.now_seconds);
    post.headers.emplace_back("X-Cronhost-Timestamp", timestamp);
    post.headers.emplace_back("X-Cronhost-Signature", webhook_signature(target.secret, timestamp, request.body));
  }
  for (const auto& header : target.headers) post.headers.push_back(header);

  // Redirects stay on the target's origin: a webhook's headers (a token, the signature) and
  // body are meant for it alone.
  const std::string origin = origin_of(target.url);
  bool refused_redirect = false;
  const api::HttpClient::UrlCheck stay_on_origin = [&](std::string_view url) -> Result<std::string> {
    const std::string text(url);
    if (text == target.url) return text;
    if (origin.empty() || origin_of(text) != origin) {
      refused_redirect = true;
      return Result<std::string>::error("a redirect to another host (" + redactor.apply(text) + ") is not followed");
    }
    return text;
  };
  api::HttpClient client(http, std::chrono::steady_clock::now() + timeout + std::chrono::seconds(1), std::move(cancelled));
  auto answer = client.perform(std::move(post), stay_on_origin);
  if (!answer) {
    result.permanent = refused_redirect;
    result.error = redactor.apply(answer.message());
    return result;
  }
  const long status = answer->status;
  result.status = static_cast<int>(status);
  if (status >= 200 && status <= 299) {
    result.delivered = true;
    return result;
  }
  std::string quoted = answer->body.substr(0, kQuotedBodyChars);
  for (char& c : quoted)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  result.error = redactor.apply("POST " + target.url + ": HTTP " + std::to_string(status) +
                                (quoted.empty() ? "" : " (" + quoted + ")"));
  result.retry_after = retry_after(answer->header("retry-after"));
  // 3xx left here: a redirect without a Location, or one past max_redirects.
  result.permanent = (status >= 400 && status <= 499 && status != 408 && status != 429) || (status >= 300 && status <= 399);
  return result;
}

}  // namespace cronhost::notify
