#include "config/host_config.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/schema_check.hpp"
#include "config/yaml_document.hpp"

namespace cronhost::config {

std::optional<HostConfig> load_host_config(const std::filesystem::path& path, Diagnostics& diagnostics) {
  namespace fs = std::filesystem;
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.push_back({file, {1, 1}, "cannot read the host config"});
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const fs::path dir = fs::absolute(path).parent_path();
  const size_t before = diagnostics.size();
  auto doc = YamlDocument::parse(file, buffer.str(), dir, diagnostics);
  if (!doc) return std::nullopt;
  if (!doc->root().is_null()) SchemaCheck::host_config().check(*doc, diagnostics);
  if (diagnostics.size() != before) return std::nullopt;

  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto& root = doc->root().is_null() ? kEmpty : doc->root();  // an empty file: all defaults
  const auto path_at = [&](const char* key, const fs::path& fallback) {
    if (!root.contains(key)) return fallback;
    fs::path p = root[key].get<std::string>();
    return p.is_relative() ? dir / p : p;
  };
  HostConfig config;
  config.source = path;
  config.jobs_dir = path_at("jobs", config.jobs_dir);
  config.state_file = path_at("state", config.state_file);
  if (root.contains("timezone")) {
    auto zone = schedule::Zone::load(root["timezone"].get<std::string>());
    if (!zone)
      diagnostics.push_back(doc->error_at(doc->text_position("/timezone"),
                                          doc->is_secret("/timezone") ? "timezone: unknown time zone (from a secret)"
                                                                      : "timezone: " + zone.message()));
    else config.timezone = zone.value();
  }
  config.workers = root.value("workers", config.workers);
  if (root.contains("shutdown_grace")) {
    auto d = parse_duration(root["shutdown_grace"].get<std::string>());
    if (!d)
      diagnostics.push_back(doc->error_at(doc->text_position("/shutdown_grace"),
                                          doc->is_secret("/shutdown_grace") ? "shutdown_grace: not a duration (from a secret)"
                                                                            : "shutdown_grace: " + d.message()));
    else config.shutdown_grace = *d;
  }
  if (root.contains("limits")) {
    const auto& limits = root["limits"];
    config.run_memory_bytes = static_cast<size_t>(limits.value("memory_mb", 64)) << 20;
    config.run_output_bytes = static_cast<size_t>(limits.value("output_kb", 64)) << 10;
  }
  if (root.contains("history")) {
    config.history_keep_days = root["history"].value("keep_days", config.history_keep_days);
    config.history_keep_per_job = root["history"].value("keep_per_job", config.history_keep_per_job);
  }
  if (root.contains("log")) {
    const auto& log = root["log"];
    config.log.level = log.value("level", config.log.level);
    config.log.format = log.value("format", config.log.format);
    if (log.contains("file")) {
      fs::path p = log["file"].get<std::string>();
      config.log.file = p.is_relative() ? dir / p : p;
    }
    config.log.keep_days = log.value("keep_days", config.log.keep_days);
  }
  if (diagnostics.size() != before) return std::nullopt;
  return config;
}

}  // namespace cronhost::config
