// cronhost webhooks [list] | test URL: the operator's view of webhook notifications. list shows
// the webhook outbox (waiting and failed, newest first) from the state, read-only like history;
// test POSTs a sample notification to a URL right now, signed and shaped as the host would,
// and tells what the receiver answered: the way to check a Slack/Teams URL or a receiver's
// signature check before a job needs it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"
#include "notify/webhook_body.hpp"
#include "notify/webhook_send.hpp"
#include "store/open_store.hpp"
#include "util/clock.hpp"
#include "util/time_format.hpp"

namespace cronhost::cli {
namespace {

struct WebhooksOptions {
  std::string state;
  bool json = false;
  bool failed = false;
  int limit = 50;
  // test
  std::string url, format = "json", event = "failed", job = "cronhost-test", secret_env;
  std::vector<std::string> headers;
};

std::string iso(int64_t ms) { return format_rfc3339(Instant(std::chrono::seconds(ms / 1000)), 0); }

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// A notification event like the host sends (notify's event document), marked as a test.
nlohmann::json sample_event(const WebhooksOptions& o) {
  const int64_t now = now_ms();
  const std::string host = host_name();
  nlohmann::json event = {{"event", o.event},
                          {"job", o.job},
                          {"host", host},
                          {"at", iso(now)},
                          {"summary", "Test notification from cronhost on " + host + ": " + o.job + " " + o.event},
                          {"last_success_at", o.event == "recovered" ? nlohmann::json(iso(now)) : nlohmann::json()},
                          {"failures", o.event == "recovered" ? 0 : 1},
                          {"test", true}};
  if (o.event == "missed") event["slot"] = iso(now - 60'000);
  if (o.event == "failed" || o.event == "timed_out" || o.event == "recovered")
    event["run"] = {{"id", 0},
                    {"first_run_id", 0},
                    {"attempt", 1},
                    {"status", o.event == "recovered" ? "SUCCEEDED" : o.event == "failed" ? "FAILED" : "TIMED_OUT"},
                    {"trigger", "manual"},
                    {"scheduled_for", iso(now - 2'000)},
                    {"started_at", iso(now - 2'000)},
                    {"finished_at", iso(now)},
                    {"duration_ms", 2'000},
                    {"error", o.event == "recovered" ? nlohmann::json() : nlohmann::json("this is a test")}};
  return event;
}

int test_webhook(const CommonOptions& common, const WebhooksOptions& o) {
  config::Diagnostics diagnostics;
  auto context = load_host_context(common, diagnostics);
  if (!context) {
    print_diagnostics(diagnostics);
    return kExitUsage;
  }
  notify::WebhookTarget target;
  target.url = o.url;
  target.format = o.format;
  if (!o.secret_env.empty()) {
    const char* secret = std::getenv(o.secret_env.c_str());
    if (!secret || !*secret) {
      std::cerr << "cronhost: error: --secret-env " << o.secret_env << ": the variable is not set or empty\n";
      return kExitUsage;
    }
    target.secret = secret;
  }
  for (const auto& header : o.headers) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "cronhost: error: --header \"" << header.substr(0, header.find(':')) << "\": expected Name: value\n";
      return kExitUsage;
    }
    std::string value = header.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    target.headers.emplace_back(header.substr(0, colon), value);
    target.secret_values.push_back(value);  // a token, often: never printed back
  }
  auto body = notify::render_webhook_body(o.format, sample_event(o));
  if (!body) {
    std::cerr << "cronhost: error: " << body.message() << "\n";
    return kExitUsage;
  }
  const notify::WebhookRequest request{&target, body.value(), 0, o.event, now_ms() / 1000};
  const auto sent = notify::send_webhook(request, context->config.http, context->config.webhook_delivery.timeout,
                                         [] { return false; });
  if (sent.delivered) {
    std::cout << "delivered: HTTP " << *sent.status << (target.secret.empty() ? "" : ", signed") << "\n";
    return kExitOk;
  }
  std::cerr << "cronhost: error: not delivered: " << sent.error
            << (sent.permanent ? " (the host would give up at once)" : " (the host would retry)") << "\n";
  return kExitFailed;
}

nlohmann::json to_json(const store::OutboxWebhook& w) {
  return {{"id", w.id},
          {"job", w.job},
          {"run_id", w.run_id ? nlohmann::json(*w.run_id) : nlohmann::json()},
          {"event", w.event},
          {"format", w.format},
          {"url", w.url},
          {"state", w.failed_at ? "failed" : "waiting"},
          {"attempts", w.attempts},
          {"created_at", iso(w.created_at)},
          {"next_attempt_at", w.failed_at ? nlohmann::json() : nlohmann::json(iso(w.next_attempt_at))},
          {"failed_at", w.failed_at ? nlohmann::json(iso(*w.failed_at)) : nlohmann::json()},
          {"last_status", w.last_status ? nlohmann::json(*w.last_status) : nlohmann::json()},
          {"last_error", w.last_error.empty() ? nlohmann::json() : nlohmann::json(w.last_error)}};
}

int list_webhooks(const CommonOptions& common, const WebhooksOptions& o) {
  config::Diagnostics diagnostics;
  auto context = load_host_context(common, diagnostics);
  if (!context) {
    print_diagnostics(diagnostics);
    return kExitUsage;
  }
  auto store = store::open_store(store::state_location(context->config, o.state), store::OpenMode::kReader);
  if (!store) {
    std::cerr << "cronhost: error: " << store.message() << "\n";
    return kExitUsage;
  }
  auto entries = store.value()->webhook_entries(o.failed ? 100'000 : o.limit);
  if (!entries) {
    std::cerr << "cronhost: error: " << entries.message() << "\n";
    return kExitFailed;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& w : entries.value())
    if ((!o.failed || w.failed_at) && static_cast<int>(list.size()) < o.limit) list.push_back(to_json(w));
  if (o.json) {
    std::cout << nlohmann::json{{"webhooks", list}}.dump(2) << "\n";
    return kExitOk;
  }
  if (list.empty()) {
    std::cout << (o.failed ? "no failed webhooks\n" : "the webhook outbox is empty\n");
    return kExitOk;
  }
  std::printf("%-6s %-20s %-20s %-18s %-8s %-8s %s\n", "ID", "CREATED", "JOB", "EVENT", "STATE", "ATTEMPTS", "URL / LAST ERROR");
  for (const auto& w : list) {
    std::printf("%-6lld %-20s %-20s %-18s %-8s %-8d %s\n", static_cast<long long>(w["id"].get<int64_t>()),
                w["created_at"].get<std::string>().c_str(), w["job"].get<std::string>().c_str(),
                w["event"].get<std::string>().c_str(), w["state"].get<std::string>().c_str(), w["attempts"].get<int>(),
                w["url"].get<std::string>().c_str());
    if (w["last_error"].is_string()) std::printf("%-6s %s\n", "", w["last_error"].get<std::string>().c_str());
  }
  return kExitOk;
}

}  // namespace

Command add_webhooks_command(CLI::App& app, const CommonOptions& common) {
  auto o = std::make_shared<WebhooksOptions>();
  auto* cmd = app.add_subcommand("webhooks", "List the webhook outbox, or send a test notification to a URL");
  cmd->require_subcommand(1);
  auto* list_cmd = cmd->add_subcommand("list", "List webhook notifications waiting or given up, newest first");
  list_cmd->add_flag("--failed", o->failed, "Only the ones given up");
  list_cmd->add_option("--limit", o->limit, "How many (default 50)")->check(CLI::Range(1, 100000));
  list_cmd->add_option("--state", o->state, "State file (default: from the config, else ./cronhost.db)");
  list_cmd->add_flag("--json", o->json, "Print JSON");
  auto* test_cmd = cmd->add_subcommand("test", "POST a sample notification to URL now, as the host would, and show the answer");
  test_cmd->add_option("url", o->url, "The webhook's URL")->required();
  test_cmd->add_option("--format", o->format, "json (default), slack or teams")->check(CLI::IsMember({"json", "slack", "teams"}));
  test_cmd->add_option("--event", o->event, "The sample's event (default failed)")
      ->check(CLI::IsMember({"failed", "timed_out", "recovered", "missed", "no_success_within"}));
  test_cmd->add_option("--job", o->job, "The sample's job name (default cronhost-test)");
  test_cmd->add_option("--secret-env", o->secret_env,
                       "Sign with the secret in this environment variable (not on the command line, where ps shows it)");
  test_cmd->add_option("-H,--header", o->headers, "A header to send, \"Name: value\" (repeatable)");
  test_cmd->footer("Exit 0: a 2xx answer; 1: not delivered (the error says why and whether the host would retry).");
  return [cmd, test_cmd, o, &common]() -> int {
    if (cmd->got_subcommand(test_cmd)) return test_webhook(common, *o);
    return list_webhooks(common, *o);
  };
}

}  // namespace cronhost::cli
