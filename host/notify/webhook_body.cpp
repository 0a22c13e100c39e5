#include "notify/webhook_body.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

namespace cronhost::notify {

const char* const kWebhookFormats = "json, slack or teams";

namespace {

using json = nlohmann::json;

// Chat messages keep an error short; the json format carries it whole.
constexpr size_t kMaxErrorChars = 500;

std::string text_of(const json& doc, const char* key) {
  if (!doc.is_object() || !doc.contains(key)) return "";
  const json& v = doc[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::string shortened(std::string text) {
  if (text.size() <= kMaxErrorChars) return text;
  size_t cut = kMaxErrorChars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "…";
}

// The headline: what happened to which job.
std::string title(const json& event) {
  const std::string job = text_of(event, "job");
  const std::string name = text_of(event, "event");
  if (name == "failed") return "Job " + job + " failed";
  if (name == "timed_out") return "Job " + job + " timed out";
  if (name == "recovered") return "Job " + job + " recovered";
  if (name == "missed") return "Job " + job + " missed a run";
  if (name == "no_success_within") return "Job " + job + " has not succeeded in time";
  return "Job " + job + ": " + name;
}

bool is_bad_news(const json& event) { return text_of(event, "event") != "recovered"; }

std::string duration_text(const json& ms) {
  if (!ms.is_number()) return "";
  const double seconds = ms.get<double>() / 1000.0;
  char buf[32];
  if (seconds < 60) std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else std::snprintf(buf, sizeof buf, "%d min %d s", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  return buf;
}

// (label, value) pairs shown under the headline, the empty ones left out.
std::vector<std::pair<std::string, std::string>> facts(const json& event) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto add = [&](std::string label, std::string value) {
    if (!value.empty()) out.emplace_back(std::move(label), std::move(value));
  };
  add("Host", text_of(event, "host"));
  add("Event", text_of(event, "event"));
  add("At", text_of(event, "at"));
  add("Slot", text_of(event, "slot"));
  if (event.contains("run") && event["run"].is_object()) {
    const json& run = event["run"];
    add("Run", text_of(run, "id"));
    add("Attempt", text_of(run, "attempt"));
    add("Status", text_of(run, "status"));
    add("Trigger", text_of(run, "trigger"));
    add("Duration", duration_text(run.value("duration_ms", json())));
    add("Error", shortened(text_of(run, "error")));
  }
  if (event.contains("last_success_at"))
    add("Last success", event["last_success_at"].is_null() ? "never" : text_of(event, "last_success_at"));
  if (event.contains("failures") && event["failures"].is_number() && event["failures"].get<int64_t>() > 0)
    add("Failures in a row", text_of(event, "failures"));
  return out;
}

// Slack's mrkdwn treats &, < and > as markup: https://api.slack.com/reference/surfaces/formatting#escaping
std::string slack_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

json slack_message(const json& event) {
  const std::string summary = text_of(event, "summary");
  json blocks = json::array();
  blocks.push_back({{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", title(event)}, {"emoji", true}}}});
  if (!summary.empty())
    blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", slack_escaped(summary)}}}});
  json fields = json::array();
  for (const auto& [label, value] : facts(event)) {
    if (label == "Error") continue;  // a block of its own below: it may be long
    fields.push_back({{"type", "mrkdwn"}, {"text", "*" + label + "*\n" + slack_escaped(value)}});
  }
  // Slack takes at most 10 fields in a section.
  for (size_t at = 0; at < fields.size(); at += 10)
    blocks.push_back({{"type", "section"},
                      {"fields", json(std::vector<json>(fields.begin() + at, fields.begin() + std::min(at + 10, fields.size())))}});
  for (const auto& [label, value] : facts(event))
    if (label == "Error")
      blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", "*Error*\n```" + slack_escaped(value) + "```"}}}});
  if (const std::string url = text_of(event, "url"); !url.empty())
    blocks.push_back({{"type", "actions"},
                      {"elements", {{{"type", "button"}, {"text", {{"type", "plain_text"}, {"text", "Open in cronhost"}}},
                                     {"url", url}}}}});
  const std::string fallback = summary.empty() ? title(event) : summary;  // what notifications show
  return {{"text", (is_bad_news(event) ? ":x: " : ":white_check_mark: ") + slack_escaped(fallback)}, {"blocks", blocks}};
}

// A message with one Adaptive Card: what Teams' Workflows webhooks take (and the newer
// connectors); https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference
json teams_message(const json& event) {
  json body = json::array();
  body.push_back({{"type", "TextBlock"}, {"text", title(event)}, {"weight", "Bolder"}, {"size", "Medium"},
                  {"color", is_bad_news(event) ? "Attention" : "Good"}, {"wrap", true}});
  if (const std::string summary = text_of(event, "summary"); !summary.empty())
    body.push_back({{"type", "TextBlock"}, {"text", summary}, {"wrap", true}});
  json fact_set = json::array();
  for (const auto& [label, value] : facts(event)) fact_set.push_back({{"title", label}, {"value", value}});
  if (!fact_set.empty()) body.push_back({{"type", "FactSet"}, {"facts", fact_set}});
  json card = {{"type", "AdaptiveCard"},
               {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"version", "1.4"},
               {"body", body}};
  if (const std::string url = text_of(event, "url"); !url.empty())
    card["actions"] = {{{"type", "Action.OpenUrl"}, {"title", "Open in cronhost"}, {"url", url}}};
  return {{"type", "message"},
          {"summary", title(event)},
          {"attachments", {{{"contentType", "application/vnd.microsoft.card.adaptive"}, {"contentUrl", nullptr}, {"content", card}}}}};
}

std::string dumped(const json& doc) {
  // Text from a run (its error) may hold invalid UTF-8: replaced, so the body is always JSON.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<std::string> render_webhook_body(const std::string& format, const nlohmann::json& event) {
  if (!event.is_object()) return Result<std::string>::error("a webhook event must be a JSON object");
  if (format == "json") return dumped(event);
  if (format == "slack") return dumped(slack_message(event));
  if (format == "teams") return dumped(teams_message(event));
  return Result<std::string>::error("webhook format \"" + format + "\" is not one of " + kWebhookFormats);
}

}  // namespace cronhost::notify
