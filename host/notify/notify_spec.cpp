#include "notify/notify_spec.hpp"

#include <algorithm>
#include <array>

#include "config/yaml_document.hpp"
#include "util/http_header.hpp"

namespace cronhost::notify {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 5> kEventNames = {"failed", "timed_out", "recovered", "missed",
                                                         "no_success_within"};

// A string or a list of strings (mail: ops@acme.test, or mail: [a, b]).
std::vector<std::string> strings_at(const json& value) {
  std::vector<std::string> out;
  if (value.is_string()) out.push_back(value.get<std::string>());
  if (value.is_array())
    for (const auto& item : value)
      if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

void add_unique(std::vector<std::string>& into, const std::vector<std::string>& more) {
  for (const auto& item : more)
    if (std::find(into.begin(), into.end(), item) == into.end()) into.push_back(item);
}

}  // namespace

std::string_view to_string(EventKind kind) { return kEventNames[static_cast<size_t>(kind)]; }

std::optional<EventKind> parse_event_kind(std::string_view text) {
  for (size_t i = 0; i < kEventNames.size(); ++i)
    if (kEventNames[i] == text) return static_cast<EventKind>(i);
  return std::nullopt;
}

NotifyPlan merge(const NotifyBlock* host_default, const NotifyBlock* job) {
  NotifyPlan plan;
  if (job && job->off) return plan;
  plan.on = {EventKind::kFailed, EventKind::kTimedOut, EventKind::kRecovered, EventKind::kMissed};
  const auto apply = [&plan](const NotifyBlock& block) {
    if (block.on) plan.on = *block.on;
    if (block.repeat_every) plan.repeat_every = *block.repeat_every;
    if (block.missed_grace) plan.missed_grace = *block.missed_grace;
    if (block.no_success_within) plan.no_success_within = *block.no_success_within;
    add_unique(plan.mail, block.mail);
    for (const auto& hook : block.webhooks)
      if (std::none_of(plan.webhooks.begin(), plan.webhooks.end(), [&](const auto& h) { return h.url == hook.url; }))
        plan.webhooks.push_back(hook);
    add_unique(plan.jobs, block.jobs);
  };
  if (host_default && !host_default->off && (!job || job->inherit)) apply(*host_default);
  if (job) apply(*job);
  // The dead-man check is asked for by its period; `on` need not name it too.
  if (plan.no_success_within) plan.on.insert(EventKind::kNoSuccessWithin);
  plan.enabled = !plan.mail.empty() || !plan.webhooks.empty() || !plan.jobs.empty();
  return plan;
}

NotifyBlock read_notify_block(const config::YamlDocument& doc, const std::string& pointer, config::Diagnostics& out) {
  NotifyBlock block;
  const json::json_pointer at(pointer);
  if (!doc.root().contains(at)) return block;
  const json& value = doc.root().at(at);
  if (value.is_boolean()) {
    block.off = !value.get<bool>();
    return block;
  }
  if (!value.is_object()) return block;  // the schema check reported it
  const std::string key = config::pointer_to_key(pointer);
  const auto duration = [&](const char* name) -> std::optional<Millis> {
    if (!value.contains(name) || !value[name].is_string()) return std::nullopt;
    auto d = parse_duration(value[name].get<std::string>());
    const std::string where = pointer + "/" + name;
    if (!d) {
      out.push_back(doc.error_at(doc.text_position(where), key + "." + name + ": " + d.message()));
      return std::nullopt;
    }
    if (d->count() <= 0) {
      out.push_back(doc.error_at(doc.text_position(where), key + "." + name + ": must be longer than 0 (got '" +
                                                               value[name].get<std::string>() + "')"));
      return std::nullopt;
    }
    return *d;
  };
  block.repeat_every = duration("repeat_every");
  block.missed_grace = duration("missed_grace");
  block.no_success_within = duration("no_success_within");
  if (value.contains("inherit") && value["inherit"].is_boolean()) block.inherit = value["inherit"].get<bool>();
  if (value.contains("on")) {
    std::set<EventKind> on;
    for (const auto& name : strings_at(value["on"]))
      if (auto kind = parse_event_kind(name)) on.insert(*kind);
    block.on = on;
  }
  if (value.contains("mail")) block.mail = strings_at(value["mail"]);
  if (value.contains("job")) block.jobs = strings_at(value["job"]);
  if (value.contains("webhook")) {
    const json& hooks = value["webhook"];
    const json list = hooks.is_object() ? json::array({hooks}) : hooks;
    for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
      const json& hook = list[i];
      if (!hook.is_object() || !hook.contains("url") || !hook["url"].is_string()) continue;
      const std::string hook_pointer = hooks.is_object() ? pointer + "/webhook" : pointer + "/webhook/" + std::to_string(i);
      const std::string hook_key = config::pointer_to_key(hook_pointer);
      WebhookTarget target;
      target.url = hook["url"].get<std::string>();
      if (doc.is_secret(hook_pointer + "/url")) target.secret_values.push_back(target.url);
      target.format = hook.value("format", std::string("json"));
      if (hook.contains("secret") && hook["secret"].is_string()) {
        target.secret = hook["secret"].get<std::string>();
        if (!doc.is_secret(hook_pointer + "/secret"))
          out.push_back(doc.error_at(doc.text_position(hook_pointer + "/secret"),
                                     hook_key + ".secret: is written in plain text; give it as ${env:NAME} or ${file:PATH}"));
        target.secret_values.push_back(target.secret);
      }
      if (hook.contains("headers") && hook["headers"].is_object())
        for (const auto& [name, header] : hook["headers"].items()) {
          if (!header.is_string()) continue;
          const std::string header_pointer = config::pointer_append(hook_pointer + "/headers", name);
          if (auto ok = check_request_header(name, header.get<std::string>()); !ok) {
            out.push_back(doc.error_at(doc.value_position(header_pointer),
                                       hook_key + ".headers." + escape_controls(name) + ": " + ok.message()));
            continue;
          }
          target.headers.emplace_back(name, header.get<std::string>());
          if (doc.is_secret(header_pointer)) target.secret_values.push_back(header.get<std::string>());
        }
      block.webhooks.push_back(std::move(target));
    }
  }
  return block;
}

json block_to_json(const NotifyBlock& block) {
  if (block.off) return false;
  json out = json::object();
  if (!block.inherit) out["inherit"] = false;
  if (block.on) {
    json on = json::array();
    for (const auto kind : *block.on) on.push_back(std::string(to_string(kind)));
    out["on"] = on;
  }
  if (!block.mail.empty()) out["mail"] = block.mail;
  if (!block.webhooks.empty()) {
    json hooks = json::array();
    for (const auto& hook : block.webhooks) {
      const auto secret = [&hook](const std::string& value) {
        return std::find(hook.secret_values.begin(), hook.secret_values.end(), value) != hook.secret_values.end();
      };
      json headers = json::object();
      for (const auto& [name, value] : hook.headers) headers[name] = secret(value) ? "***" : value;
      hooks.push_back({{"url", secret(hook.url) ? "***" : hook.url}, {"format", hook.format},
                       {"signed", !hook.secret.empty()}, {"headers", headers}});
    }
    out["webhook"] = hooks;
  }
  if (!block.jobs.empty()) out["job"] = block.jobs;
  if (block.repeat_every) out["repeat_every_ms"] = block.repeat_every->count();
  if (block.missed_grace) out["missed_grace_ms"] = block.missed_grace->count();
  if (block.no_success_within) out["no_success_within_ms"] = block.no_success_within->count();
  return out;
}

bool same_block(const NotifyBlock& a, const NotifyBlock& b) {
  const auto same_hooks = [](const std::vector<WebhookTarget>& x, const std::vector<WebhookTarget>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const WebhookTarget& p, const WebhookTarget& q) {
      return p.url == q.url && p.format == q.format && p.secret == q.secret && p.headers == q.headers;
    });
  };
  return a.off == b.off && a.inherit == b.inherit && a.on == b.on && a.repeat_every == b.repeat_every &&
         a.missed_grace == b.missed_grace && a.no_success_within == b.no_success_within && a.mail == b.mail &&
         a.jobs == b.jobs && same_hooks(a.webhooks, b.webhooks);
}

std::string describe_channels(const NotifyPlan& plan) {
  std::string out;
  const auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  for (const auto& address : plan.mail) add("mail " + address);
  for (const auto& hook : plan.webhooks) {
    const bool secret_url = std::find(hook.secret_values.begin(), hook.secret_values.end(), hook.url) !=
                            hook.secret_values.end();
    add("webhook " + (secret_url ? std::string("(url from a secret)") : hook.url) + " (" + hook.format + ")");
  }
  for (const auto& job : plan.jobs) add("job " + job);
  return out.empty() ? "nowhere" : out;
}

}  // namespace cronhost::notify
