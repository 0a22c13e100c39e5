// The webhook bodies (notify/webhook_body.hpp) and the signature (notify/webhook_send.hpp).
#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "notify/webhook_body.hpp"
#include "notify/webhook_send.hpp"

using namespace cronhost;
using json = nlohmann::json;

namespace {

json failed_event() {
  return {{"event", "failed"},
          {"job", "nightly-backup"},
          {"host", "db1"},
          {"at", "2026-12-04T03:00:07Z"},
          {"summary", "nightly-backup failed after 3 attempts: pg_dump exited 1 <stderr>"},
          {"run", {{"id", 42}, {"first_run_id", 40}, {"attempt", 3}, {"status", "FAILED"}, {"trigger", "schedule"},
                   {"scheduled_for", "2026-12-04T03:00:00Z"}, {"started_at", "2026-12-04T03:00:01Z"},
                   {"finished_at", "2026-12-04T03:00:07Z"}, {"duration_ms", 6200}, {"error", "pg_dump: connection refused"}}},
          {"last_success_at", "2026-12-03T03:00:09Z"},
          {"failures", 2},
          {"url", "https://cron.example.com/runs/42"}};
}

json missed_event() {
  return {{"event", "missed"}, {"job", "report"}, {"host", "db1"}, {"at", "2026-12-04T06:10:00Z"},
          {"summary", "report did not start for its 06:00 slot"}, {"slot", "2026-12-04T06:00:00Z"},
          {"last_success_at", nullptr}, {"failures", 0}};
}

// Every text in a Slack or Teams body, joined: what a reader would see.
std::string all_text(const json& doc) {
  if (doc.is_string()) return doc.get<std::string>() + "\n";
  std::string out;
  if (doc.is_structured())
    for (const auto& item : doc) out += all_text(item);
  return out;
}

}  // namespace

TEST_CASE("the json webhook format sends the event document as is", "[notify][webhook]") {
  const auto body = notify::render_webhook_body("json", failed_event());
  REQUIRE(body);
  CHECK(json::parse(body.value()) == failed_event());
}

TEST_CASE("the slack webhook format is an incoming-webhook message: text and blocks", "[notify][webhook]") {
  const json message = json::parse(notify::render_webhook_body("slack", failed_event()).value());
  // text: what notifications and old clients show; &, <, > escaped as Slack asks.
  CHECK(message.at("text") == ":x: nightly-backup failed after 3 attempts: pg_dump exited 1 &lt;stderr&gt;");
  const json& blocks = message.at("blocks");
  REQUIRE(blocks.is_array());
  CHECK(blocks[0] == json{{"type", "header"},
                          {"text", {{"type", "plain_text"}, {"text", "Job nightly-backup failed"}, {"emoji", true}}}});
  CHECK(blocks[1].at("type") == "section");
  CHECK(blocks[1].at("text").at("type") == "mrkdwn");
  const std::string shown = all_text(blocks);
  for (const char* fact : {"*Host*\ndb1", "*Attempt*\n3", "*Status*\nFAILED", "*Duration*\n6.2 s",
                           "*Last success*\n2026-12-03T03:00:09Z", "*Failures in a row*\n2",
                           "*Error*\n```pg_dump: connection refused```"})
    CHECK(shown.find(fact) != std::string::npos);
  for (const auto& block : blocks)
    if (block.contains("fields")) CHECK(block["fields"].size() <= 10);  // Slack's limit per section
  const json& actions = blocks.back();
  CHECK(actions.at("type") == "actions");
  CHECK(actions.at("elements")[0].at("url") == "https://cron.example.com/runs/42");

  const json recovered = json::parse(notify::render_webhook_body("slack", {{"event", "recovered"}, {"job", "x"}}).value());
  CHECK(recovered.at("text") == ":white_check_mark: Job x recovered");
}

TEST_CASE("the teams webhook format is a message holding one Adaptive Card", "[notify][webhook]") {
  const json message = json::parse(notify::render_webhook_body("teams", missed_event()).value());
  CHECK(message.at("type") == "message");
  REQUIRE(message.at("attachments").size() == 1);
  const json& attachment = message["attachments"][0];
  CHECK(attachment.at("contentType") == "application/vnd.microsoft.card.adaptive");
  const json& card = attachment.at("content");
  CHECK(card.at("type") == "AdaptiveCard");
  CHECK(card.at("version") == "1.4");
  CHECK(card.at("body")[0].at("text") == "Job report missed a run");
  CHECK(card.at("body")[0].at("color") == "Attention");
  CHECK(card.at("body")[1].at("text") == "report did not start for its 06:00 slot");
  const json& facts = card.at("body")[2].at("facts");
  const auto has = [&](const json& fact) { return std::find(facts.begin(), facts.end(), fact) != facts.end(); };
  CHECK(has(json{{"title", "Slot"}, {"value", "2026-12-04T06:00:00Z"}}));
  CHECK(has(json{{"title", "Last success"}, {"value", "never"}}));
  for (const auto& fact : facts) CHECK(fact.at("title") != "Run");  // no run for a missed slot
  CHECK_FALSE(card.contains("actions"));                             // no url without server.public_url

  const json with_link = json::parse(notify::render_webhook_body("teams", failed_event()).value());
  CHECK(with_link["attachments"][0]["content"].at("actions")[0] ==
        json{{"type", "Action.OpenUrl"}, {"title", "Open in cronhost"}, {"url", "https://cron.example.com/runs/42"}});
}

TEST_CASE("a webhook body is JSON even when the run's error is not UTF-8", "[notify][webhook]") {
  json event = failed_event();
  event["run"]["error"] = std::string("bad byte \xff here");
  for (const char* format : {"json", "slack", "teams"}) {
    const auto body = notify::render_webhook_body(format, event);
    REQUIRE(body);
    CHECK(json::accept(body.value()));
  }
}

TEST_CASE("an unknown webhook format is refused by name", "[notify][webhook]") {
  const auto body = notify::render_webhook_body("discord", failed_event());
  REQUIRE_FALSE(body);
  CHECK(body.message() == "webhook format \"discord\" is not one of json, slack or teams");
}

TEST_CASE("the webhook signature is HMAC-SHA256 of timestamp.body in hex", "[notify][webhook]") {
  // Computed independently: python3 -c 'import hmac,hashlib; print(hmac.new(KEY, b"1700000000." + BODY,
  // hashlib.sha256).hexdigest())'
  CHECK(notify::webhook_signature("It's a Secret to Everybody", "1700000000",
                                  R"({"event":"failed","job":"backup"})") ==
        "sha256=5551dc2f84835558c3c8b681ff7ee5e94ba578281c598bfa8c86a42e819e7547");
  // RFC 4231 test case 7 (a key longer than SHA-256's block, data that holds a '.'), split at
  // its first '.' into timestamp and body.
  CHECK(notify::webhook_signature(std::string(131, '\xaa'),
                                  "This is a test using a larger than block-size key and a larger than block-size data",
                                  " The key needs to be hashed before being used by the HMAC algorithm.") ==
        "sha256=9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}
