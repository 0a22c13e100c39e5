// json_feed.cpp: a native job plugin in C++17 that fetches a JSON feed, counts its items by
// one field and reports how the counts moved since the last run.
//
//   params: {"url": "https://status.acme.test/checks.json", "key": "status"}   (key: default "status")
//   feed:   [{"name": "db", "status": "ok"}, ...]   or   {"items": [...]}
//   result: {"total": 12, "by": {"failing": 2, "ok": 10},
//            "changed": [{"value": "failing", "before": 0, "after": 2}, ...]}
//
// Items are counted under their field's value: a string as it is, any other value as its JSON
// text ("404", "true", "null"), and items without the field (or that are no objects) under
// "(missing)". The counts are kept in the job's state under "last_counts"; the first run has
// nothing to compare with and reports no changes. Needs allow.http for the url.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <cronhost/plugin.hpp>

namespace {

using nlohmann::json;
using Counts = std::map<std::string, int64_t>;  // ordered, so results and logs are stable

constexpr const char* kStateKey = "last_counts";
constexpr const char* kMissing = "(missing)";

struct Params {
  std::string url;
  std::string key;
};

// Fails the run with EINVAL, the status of a bad argument, rather than the EFAILED any other
// exception gives.
[[noreturn]] void bad_params(const std::string& message) { throw cronhost::Error(CRONHOST_EINVAL, message); }

Params read_params(const cronhost::Host& host) {
  const json params = json::parse(host.params(), nullptr, false);
  if (params.is_discarded() || !params.is_object()) bad_params("params must be a JSON object");
  Params result{"", "status"};
  const auto url = params.find("url");
  if (url == params.end() || !url->is_string() || url->get_ref<const std::string&>().empty()) {
    bad_params("params.url must be a non-empty string");
  }
  result.url = url->get<std::string>();
  if (const auto key = params.find("key"); key != params.end()) {
    if (!key->is_string() || key->get_ref<const std::string&>().empty()) bad_params("params.key must be a non-empty string");
    result.key = key->get<std::string>();
  }
  return result;
}

// The feed's items: the body itself when it is an array, else its "items" array.
json fetch_items(const cronhost::Host& host, const std::string& url) {
  const json request = {{"method", "GET"}, {"url", url}};
  const json response = json::parse(host.http(request.dump()), nullptr, false);
  if (response.is_discarded() || !response.is_object()) throw std::runtime_error("GET " + url + ": the host's response is not a JSON object");
  const auto status = response.find("status");
  if (status == response.end() || !status->is_number_integer()) throw std::runtime_error("GET " + url + ": the response has no status");
  if (status->get<int64_t>() != 200) throw std::runtime_error("GET " + url + ": HTTP " + std::to_string(status->get<int64_t>()));
  const auto body = response.find("body");
  if (body == response.end() || !body->is_string()) throw std::runtime_error("GET " + url + ": the response has no body");

  json feed = json::parse(body->get_ref<const std::string&>(), nullptr, false);
  if (feed.is_discarded()) throw std::runtime_error("GET " + url + ": the body is not JSON");
  if (feed.is_object() && feed.contains("items")) feed = std::move(feed["items"]);
  if (!feed.is_array()) throw std::runtime_error("GET " + url + ": expected a JSON array, or an object with an \"items\" array");
  return feed;
}

Counts count_by(const json& items, const std::string& key) {
  Counts counts;
  for (const json& item : items) {
    const auto value = item.is_object() ? item.find(key) : item.end();
    if (!item.is_object() || value == item.end()) {
      ++counts[kMissing];
    } else {
      ++counts[value->is_string() ? value->get<std::string>() : value->dump()];
    }
  }
  return counts;
}

// The counts the last run stored, or nullopt on the first run (or when they are unreadable).
std::optional<Counts> previous_counts(const cronhost::Host& host) {
  const std::optional<std::string> stored = host.state_get(kStateKey);
  if (!stored) return std::nullopt;
  const json value = json::parse(*stored, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    host.warn(std::string("state ") + kStateKey + " is not an object of counts: starting afresh");
    return std::nullopt;
  }
  Counts counts;
  for (const auto& [name, count] : value.items()) {
    if (count.is_number_integer()) counts[name] = count.get<int64_t>();
  }
  return counts;
}

// Every value whose count differs, a value that appeared or vanished counting as 0 on its other side.
json changes(const Counts& before, const Counts& after) {
  Counts all = before;
  all.insert(after.begin(), after.end());
  json changed = json::array();
  for (const auto& [name, ignored] : all) {
    const auto was = before.find(name);
    const auto now = after.find(name);
    const int64_t from = was == before.end() ? 0 : was->second;
    const int64_t to = now == after.end() ? 0 : now->second;
    if (from != to) changed.push_back({{"value", name}, {"before", from}, {"after", to}});
  }
  return changed;
}

void run(cronhost::Host& host) {
  const Params params = read_params(host);
  const json items = fetch_items(host, params.url);
  const Counts counts = count_by(items, params.key);
  const std::optional<Counts> before = previous_counts(host);

  json changed = json::array();
  if (before) {
    changed = changes(*before, counts);
    for (const json& change : changed) {
      host.info(params.key + " " + change["value"].get<std::string>() + ": " + change["before"].dump() + " -> " +
                change["after"].dump());
    }
  } else {
    host.info("no counts from an earlier run: these are the baseline");
  }
  host.info(std::to_string(items.size()) + " items, " + std::to_string(changed.size()) + " counts changed");

  // The result before the state: if storing the state fails, the next run reports the same
  // changes again instead of losing them.
  host.set_result(json{{"total", items.size()}, {"by", counts}, {"changed", changed}}.dump());
  host.state_put(kStateKey, json(counts).dump());
}

}  // namespace

CRONHOST_PLUGIN("json_feed", "1.0.0", "Counts a JSON feed's items by a field and reports changes", run)
