#include "dispatch/definition_hash.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace cronhost::dispatch {
namespace {

nlohmann::json trigger_params_json(const config::TriggerParams& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, rule] : params.rules()) {
    nlohmann::json r = {{"type", rule.type}, {"items", rule.items}, {"values", rule.values}};
    if (rule.minimum) r["minimum"] = *rule.minimum;
    if (rule.maximum) r["maximum"] = *rule.maximum;
    if (rule.max_length) r["max_length"] = *rule.max_length;
    if (rule.max_items) r["max_items"] = *rule.max_items;
    out[name] = r;
  }
  return out;
}

nlohmann::json allow_json(const config::Allowlist& allow) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& folder : allow.files) files.push_back(folder.string());
  nlohmann::json out = {{"http", allow.http}, {"mail_anyone", allow.mail_anyone}, {"mail", allow.mail},
                        {"db", allow.db},     {"files", files},                   {"registry", allow.registry},
                        {"approvals", allow.approvals}};
  if (!allow.storage.empty()) out["storage"] = allow.storage;  // absent when unused: older hosts' hashes stay equal
  return out;
}

nlohmann::json runner_json(const config::JobSpec& job) {
  if (job.http) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [name, value] : job.http->headers)
      headers.push_back({name, job.http->secret_headers.count(name) ? "***" : value});
    return {{"http",
             {{"url", job.http->url},
              {"method", job.http->method},
              {"headers", headers},
              {"timeout_ms", job.http->timeout ? nlohmann::json(job.http->timeout->count()) : nlohmann::json()}}}};
  }
  // Neither path nor name: the hasher adds the file's contents, which is what runs (folders
  // differ by host, and a file renamed with the same text runs the same).
  if (!job.plugin.empty()) return "plugin";
  return "lua";
}

}  // namespace

std::string fnv1a_hex(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

nlohmann::json definition_json(const config::JobSpec& job) {
  nlohmann::json retries = {{"attempts", job.retries.attempts},
                            {"backoff_ms", job.retries.backoff.count()},
                            {"max_backoff_ms", job.retries.max_backoff.count()}};
  nlohmann::json catchup = {{"policy", std::string(config::to_string(job.catchup.policy))},
                            {"window_ms", job.catchup.window.count()},
                            {"max_runs", job.catchup.max_runs}};
  nlohmann::json writeback;
  if (job.writeback) {
    nlohmann::json args = nlohmann::json::array();
    for (const auto& arg : job.writeback->args) args.push_back({arg.field, arg.value});
    writeback = {{"db", job.writeback->db}, {"sql", job.writeback->sql}, {"args", args}};
  }
  // The schedule as described, not its anchor: an interval's anchor is when the host loaded it.
  nlohmann::json out = {{"name", job.name},
          {"description", job.description},
          {"schedule",
           {{"describe", job.schedule.describe()},
            {"timezone", job.schedule.zone().name()},
            {"jitter_ms", job.schedule.jitter().count()}}},
          {"runner", runner_json(job)},
          {"isolation", std::string(config::to_string(job.isolation))},
          {"memory_bytes", job.memory_bytes},
          {"params", job.printable_params()},
          {"trigger_params", trigger_params_json(job.trigger_params)},
          {"timeout_ms", job.timeout.count()},
          {"retries", retries},
          {"concurrency", std::string(config::to_string(job.concurrency))},
          {"max_instances", job.max_instances ? nlohmann::json(*job.max_instances) : nlohmann::json()},
          {"catchup", catchup},
          {"enabled", job.enabled},
          {"allow", allow_json(job.allow)},
          {"writeback", writeback}};
  // Absent when unused: older hosts' hashes stay equal.
  if (!job.notify().empty()) out["notify"] = notify::block_to_json(job.notify());
  return out;
}

std::string DefinitionHasher::hash(const config::JobSpec& job) {
  std::string text = definition_json(job).dump();
  if (!job.lua_script.empty()) text += "\nlua:" + file_hash(job.lua_script);
  if (!job.plugin.empty()) text += "\nplugin:" + file_hash(job.plugin);
  return fnv1a_hex(text);
}

std::string DefinitionHasher::file_hash(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto modified = ec ? std::filesystem::file_time_type{} : std::filesystem::last_write_time(path, ec);
  if (ec) {
    files_.erase(path);
    return "unreadable";
  }
  if (auto it = files_.find(path); it != files_.end() && it->second.size == size && it->second.modified == modified)
    return it->second.hash;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return "unreadable";
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string hash = fnv1a_hex(contents.str());
  files_[path] = Seen{size, modified, hash};
  return hash;
}

}  // namespace cronhost::dispatch
