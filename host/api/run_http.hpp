// A run's HTTP request (http.request and its shorthands, and the plugin vtable's http call):
// allow.http on the URL and every redirect, the header checks, and the dry-run rule: GET and
// HEAD are performed, other methods are captured and answered 200; offline nothing is
// performed. The one implementation; the Lua binding only reads the request and builds the
// response table. Belongs to the run's thread.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "api/effects.hpp"
#include "api/http_client.hpp"
#include "config/job_spec.hpp"
#include "util/status.hpp"

namespace cronhost::api {

// A request's fields as given (JSON numbers and Lua numbers alike); HttpRequestFields::apply
// checks them into `request`, the message naming the field ("field 'timeout' must be ...").
struct HttpRequestFields {
  std::string method = "GET";            // any case
  std::optional<std::string> json_body;  // the "json" field, already encoded; sets Content-Type
  bool has_body = false;                 // "body" given too: refused with json
  std::optional<double> timeout;         // seconds
  std::optional<double> max_bytes;
  Status apply(HttpRequest& request) const;
};

struct RunHttpAnswer {
  HttpResponse response;
  bool dry_run = false;  // captured, not sent: status 200, no headers, no body
};

class RunHttp {
 public:
  // `client` gives the run's client, made on first use: a captured request makes none.
  RunHttp(const config::JobSpec& job, EffectLog& effects, const Redactor& redactor, std::function<HttpClient&()> client)
      : job_(job), effects_(effects), redactor_(redactor), client_(std::move(client)) {}

  // The URL as it will be requested (normalized), or why allow.http refuses it: misuse,
  // raised in Lua ("http: https://evil.example/ is not allowed for job J (allow.http)").
  Result<std::string> check(const HttpRequest& request) const;
  // Performed or captured, for `url` from check(). Fails (nil, err in Lua) when a header may
  // not be sent, when no response arrived, or for a read in an offline dry run.
  Result<RunHttpAnswer> perform(HttpRequest request, const std::string& url);

 private:
  const config::JobSpec& job_;
  EffectLog& effects_;
  const Redactor& redactor_;
  std::function<HttpClient&()> client_;
};

}  // namespace cronhost::api
