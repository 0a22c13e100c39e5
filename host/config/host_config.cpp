#include "config/host_config.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "api/mail_address.hpp"
#include "api/mysql_url.hpp"
#include "config/schema_check.hpp"
#include "util/byte_size.hpp"
#include "util/status.hpp"
#include "util/uid_gid.hpp"
#include "config/yaml_document.hpp"

namespace cronhost::config {
namespace {

// Every string value that came from ${env:} or ${file:}.
void collect_secrets(const YamlDocument& doc, const nlohmann::json& value, const std::string& pointer,
                     std::vector<std::string>& out) {
  if (value.is_string() && doc.is_secret(pointer)) out.push_back(value.get<std::string>());
  if (value.is_object())
    for (const auto& [key, child] : value.items()) collect_secrets(doc, child, pointer_append(pointer, key), out);
  if (value.is_array())
    for (size_t i = 0; i < value.size(); ++i) collect_secrets(doc, value[i], pointer + "/" + std::to_string(i), out);
}

constexpr const char* kPasswordInUrl =
    "the URL holds a password; give it as password: \"${env:NAME}\" or \"${file:PATH}\" instead, so it is never shown";

// log.keep (keep_days is its old name, from when only days were kept) and log.max_size.
void read_log_rotation(const YamlDocument& doc, const nlohmann::json& log, LogSettings& settings,
                       Diagnostics& diagnostics) {
  if (log.contains("keep") && log.contains("keep_days"))
    diagnostics.push_back(doc.error_at(doc.key_position("/log/keep_days"),
                                       "log.keep_days: is the old name of log.keep; give only keep"));
  settings.keep = log.value("keep", log.value("keep_days", settings.keep));
  if (!log.contains("max_size")) return;
  if (settings.rotate != "size") {
    diagnostics.push_back(doc.error_at(doc.key_position("/log/max_size"),
                                       "log.max_size: is for log.rotate: size (log.rotate is " + settings.rotate + ")"));
    return;
  }
  const std::string text = log["max_size"].get<std::string>();
  auto size = parse_byte_size(text);
  if (size && *size < 1024) size = Result<uint64_t>::error("size \"" + text + "\" is below the least, 1KB");
  if (!size) diagnostics.push_back(doc.error_at(doc.text_position("/log/max_size"), "log.max_size: " + size.message()));
  else settings.max_size_bytes = *size;
}

bool is_postgres_url(const std::string& text) {
  return text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0;
}

// One entry of databases:. A server's password comes only from password: as a secret, so it
// is redacted everywhere and never sits in a URL that a message or a log line shows.
template <typename FileAt>
std::optional<DatabaseSettings> read_database(const YamlDocument& doc, const std::string& pointer,
                                              const nlohmann::json& db, const FileAt& file_at, Diagnostics& diagnostics) {
  const std::string key = pointer_to_key(pointer);
  DatabaseSettings settings;
  settings.readonly = db.value("readonly", false);
  if (db.contains("sqlite")) {
    settings.sqlite = file_at(db["sqlite"]);
    for (const char* server_only : {"password", "tls", "connect_timeout"})
      if (db.contains(server_only))
        diagnostics.push_back(doc.error_at(doc.key_position(pointer + "/" + server_only),
                                           key + "." + server_only + ": is for postgresql and mysql databases"));
    return settings;
  }
  const bool postgres = db.contains("postgresql");
  settings.engine = postgres ? DbEngine::kPostgresql : DbEngine::kMysql;
  const std::string url_key = postgres ? "postgresql" : "mysql";
  settings.url = db[url_key].get<std::string>();
  if (url_holds_password(settings.url)) {
    diagnostics.push_back(doc.error_at(doc.text_position(pointer + "/" + url_key), key + "." + url_key + ": " + kPasswordInUrl));
    return std::nullopt;
  }
  // The engine and db.dump read a MySQL URL with api/mysql_url: read here, a bad one is the
  // config's error at load rather than each run's at db.open.
  if (!postgres)
    if (auto parsed = api::parse_mysql_url(settings.url); !parsed) {
      diagnostics.push_back(doc.error_at(doc.text_position(pointer + "/" + url_key),
                                         key + "." + url_key + ": " + parsed.message()));
      return std::nullopt;
    }
  if (db.contains("password")) {
    if (!doc.is_secret(pointer + "/password")) {
      diagnostics.push_back(doc.error_at(doc.text_position(pointer + "/password"),
                                         key + ".password: is written in plain text; give it as ${env:NAME} or "
                                         "${file:PATH}"));
      return std::nullopt;
    }
    settings.password = db["password"].get<std::string>();
  }
  if (db.contains("tls")) {
    settings.tls.mode = db["tls"].value("mode", "");
    if (db["tls"].contains("ca")) settings.tls.ca = file_at(db["tls"]["ca"]);
  }
  if (db.contains("connect_timeout"))
    if (auto d = parse_duration(db["connect_timeout"].get<std::string>()))
      settings.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  return settings;
}

// One entry of storage:. Secret keys and SAS tokens come only as secrets (${env:}/${file:}).
std::optional<StorageSettings> read_storage(const YamlDocument& doc, const std::string& pointer, const nlohmann::json& entry,
                                            Diagnostics& diagnostics) {
  const std::string key = pointer_to_key(pointer);
  const size_t errors_before = error_count(diagnostics);
  const auto must_be_secret = [&](const std::string& field) {
    const std::string at = pointer + "/" + field;
    if (doc.is_secret(at)) return;
    diagnostics.push_back(doc.error_at(doc.text_position(at), pointer_to_key(at) +
                                                                  ": is written in plain text; give it as ${env:NAME} or ${file:PATH}"));
  };
  StorageSettings settings;
  if (entry.contains("s3") == entry.contains("azure_blob")) {
    diagnostics.push_back(doc.error_at(doc.key_position(pointer), key + ": expected exactly one of s3 or azure_blob"));
    return std::nullopt;
  }
  if (entry.contains("s3")) {
    const auto& s3 = entry["s3"];
    settings.kind = StorageSettings::Kind::kS3;
    settings.s3.endpoint = s3["endpoint"].get<std::string>();
    while (settings.s3.endpoint.back() == '/') settings.s3.endpoint.pop_back();
    settings.s3.region = s3.value("region", settings.s3.region);
    settings.s3.bucket = s3["bucket"].get<std::string>();
    settings.s3.access_key = s3["access_key"].get<std::string>();
    settings.s3.secret_key = s3["secret_key"].get<std::string>();
    settings.s3.path_style = s3.value("path_style", false);
    must_be_secret("s3/secret_key");
  } else {
    const auto& az = entry["azure_blob"];
    settings.kind = StorageSettings::Kind::kAzureBlob;
    settings.azure.account = az["account"].get<std::string>();
    settings.azure.container = az["container"].get<std::string>();
    settings.azure.key = az.value("key", "");
    settings.azure.sas = az.value("sas", "");
    settings.azure.endpoint = az.value("endpoint", "https://" + settings.azure.account + ".blob.core.windows.net");
    while (settings.azure.endpoint.back() == '/') settings.azure.endpoint.pop_back();
    if (settings.azure.key.empty() == settings.azure.sas.empty())
      diagnostics.push_back(doc.error_at(doc.key_position(pointer + "/azure_blob"),
                                         key + ".azure_blob: expected exactly one of key or sas"));
    else
      must_be_secret(settings.azure.key.empty() ? "azure_blob/sas" : "azure_blob/key");
    while (!settings.azure.sas.empty() && settings.azure.sas.front() == '?') settings.azure.sas.erase(0, 1);
  }
  settings.part_size = static_cast<size_t>(entry.value("part_size_mb", 16)) << 20;
  settings.multipart_threshold = static_cast<size_t>(entry.value("multipart_threshold_mb", 512)) << 20;
  if (error_count(diagnostics) != errors_before) return std::nullopt;
  return settings;
}

// run_as: "uid:gid" as given, or a user name looked up here (at load, not in every runner).
// Without `users` a name is kept as written (see load_host_config).
Result<std::string> resolve_run_as(const std::string& text, UserLookup users) {
  const bool is_name = text.find(':') == std::string::npos;
  if (is_name && !users) return text;
  auto ids = is_name ? users(text) : Result<std::string>(text);
  if (!ids) return ids;
  // Read as the runner reads them, so that "00:0" is root here too.
  const auto parsed = parse_uid_gid(ids.value());
  if (!parsed) return Result<std::string>::error(text + ": each id must be below 4294967295");
  if (parsed->uid == 0) return Result<std::string>::error(text + " is root (expected a user without privileges)");
  if (parsed->gid == 0) return Result<std::string>::error(text + " has root's group, gid 0 (expected a group without privileges)");
  return ids;
}

std::optional<Role> parse_role(const std::string& text) {
  if (text == "viewer") return Role::kViewer;
  if (text == "operator") return Role::kOperator;
  if (text == "approver") return Role::kApprover;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

template <typename FileAt>
void read_server(const YamlDocument& doc, const nlohmann::json& server, const FileAt& file_at, ServerSettings& s,
                 Diagnostics& diagnostics) {
  s.enabled = server.value("enabled", true);
  if (server.contains("listen")) {
    const std::string listen = server["listen"].get<std::string>();
    const size_t colon = listen.rfind(':');
    s.host = listen.substr(0, colon);
    if (s.host.size() > 2 && s.host.front() == '[') s.host = s.host.substr(1, s.host.size() - 2);
    s.port = std::stoi(listen.substr(colon + 1));
    if (s.port > 65535)
      diagnostics.push_back(doc.error_at(doc.text_position("/server/listen"), "server.listen: port " +
                                                                                   std::to_string(s.port) + " is above 65535"));
  }
  if (server.contains("port_file")) s.port_file = file_at(server["port_file"]);
  if (server.contains("tls")) {
    s.tls_cert = file_at(server["tls"]["cert"]);
    s.tls_key = file_at(server["tls"]["key"]);
  }
  if (server.contains("tokens")) {
    std::set<std::string> names, values;
    for (size_t i = 0; i < server["tokens"].size(); ++i) {
      const auto& t = server["tokens"][i];
      const std::string pointer = "/server/tokens/" + std::to_string(i);
      ApiToken token{t["name"].get<std::string>(), *parse_role(t["role"].get<std::string>()), t["token"].get<std::string>()};
      // ${env:NAME:-} with NAME unset: that token is off, not an error. Only the daemon serves
      // the API, so only it says so (every other command would warn about nothing it does).
      if (token.token.empty()) {
        s.empty_tokens.push_back(token.name);
        continue;
      }
      if (!names.insert(token.name).second)
        diagnostics.push_back(doc.error_at(doc.text_position(pointer + "/name"),
                                           "server.tokens: the name \"" + token.name + "\" is used twice"));
      if (!values.insert(token.token).second)
        diagnostics.push_back(doc.error_at(doc.text_position(pointer + "/token"),
                                           "server.tokens: token \"" + token.name + "\" has the same value as another"));
      if (!doc.is_secret(pointer + "/token")) {
        Diagnostic warning = doc.error_at(doc.text_position(pointer + "/token"),
                                          "server.tokens: token \"" + token.name +
                                              "\" is written in plain text; give it as ${file:PATH} or ${env:NAME}");
        warning.severity = Diagnostic::Severity::kWarning;
        diagnostics.push_back(std::move(warning));
      }
      s.tokens.push_back(std::move(token));
    }
  }
  if (server.contains("open"))
    for (const auto& path : server["open"]) {
      if (path == "health") s.open_health = true;
      if (path == "metrics") s.open_metrics = true;
    }
  if (server.contains("registration") && server["registration"].contains("urls"))
    s.registration_urls = server["registration"]["urls"].get<std::vector<std::string>>();
  s.max_body_bytes = static_cast<size_t>(server.value("max_body_kb", 1024)) << 10;
  s.threads = server.value("threads", s.threads);
  if (server.contains("dashboard_dir")) s.dashboard_dir = file_at(server["dashboard_dir"]);
  if (server.contains("public_url")) {
    s.public_url = server["public_url"].get<std::string>();
    while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  }
}

}  // namespace

std::optional<HostConfig> load_host_config(const std::filesystem::path& path, Diagnostics& diagnostics,
                                           const HostConfig& defaults, UserLookup users) {
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
  const size_t errors_before = error_count(diagnostics);
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
  config.jobs_dir = path_at("jobs", defaults.jobs_dir);
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
  if (root.contains("run_as")) {
    auto ids = resolve_run_as(root["run_as"].get<std::string>(), users);
    if (!ids) diagnostics.push_back(doc->error_at(doc->text_position("/run_as"), "run_as: " + ids.message()));
    else config.run_as = ids.value();
  }
  if (root.contains("history")) {
    config.history_keep_days = root["history"].value("keep_days", config.history_keep_days);
    config.history_keep_per_job = root["history"].value("keep_per_job", config.history_keep_per_job);
  }
  if (root.contains("metrics"))
    config.metrics_max_jobs = root["metrics"].value("max_jobs", config.metrics_max_jobs);
  const auto duration_or = [&](const std::string& pointer, Millis fallback) {
    const nlohmann::json::json_pointer ptr(pointer);
    if (!root.contains(ptr)) return fallback;
    auto d = parse_duration(root.at(ptr).get<std::string>());
    if (!d) {
      diagnostics.push_back(doc->error_at(doc->text_position(pointer), pointer_to_key(pointer) + ": " + d.message()));
      return fallback;
    }
    return *d;
  };
  const auto file_at = [&](const nlohmann::json& value) {
    fs::path p = value.get<std::string>();
    return p.is_relative() ? dir / p : p;
  };
  config.cluster_lease = duration_or("/cluster/lease", config.cluster_lease);
  if (config.cluster_lease < std::chrono::seconds(1)) {
    diagnostics.push_back(doc->error_at(doc->text_position("/cluster/lease"),
                                        "cluster.lease: " + std::to_string(config.cluster_lease.count()) +
                                            " ms is too short: expected at least 1s (renewals come every second)"));
    config.cluster_lease = std::chrono::seconds(1);
  }
  // state: a SQLite file, or PostgreSQL as a URL (its password from libpq's own sources:
  // PGPASSWORD, ~/.pgpass) or as a mapping like a databases: entry (password: ${env:NAME}).
  if (root.contains("state") && root["state"].is_object()) {
    if (auto server = read_database(*doc, "/state", root["state"], file_at, diagnostics))
      config.state_server = std::move(*server);
  } else if (root.contains("state") && is_postgres_url(root["state"].get<std::string>())) {
    DatabaseSettings server;
    server.engine = DbEngine::kPostgresql;
    server.url = root["state"].get<std::string>();
    if (url_holds_password(server.url))
      diagnostics.push_back(doc->error_at(doc->text_position("/state"),
                                          "state: the URL holds a password; write state: {postgresql: URL, "
                                          "password: \"${env:NAME}\"} (or ${file:PATH}), or set PGPASSWORD, "
                                          "so it is never shown"));
    else
      config.state_server = std::move(server);
  } else {
    config.state_file = path_at("state", defaults.state_file);
  }
  if (root.contains("smtp")) {
    const auto& smtp = root["smtp"];
    SmtpSettings s;
    s.host = smtp["host"].get<std::string>();
    s.tls = smtp.value("tls", s.tls);
    // null (port: ${var:SMTP_PORT:-} with the variable unset): the TLS mode's usual port
    const bool port_set = smtp.contains("port") && !smtp["port"].is_null();
    s.port = port_set ? smtp["port"].get<int>() : s.tls == "implicit" ? 465 : s.tls == "none" ? 25 : 587;
    s.user = smtp.value("user", "");
    s.password = smtp.value("password", "");
    s.from = smtp["from"].get<std::string>();
    s.timeout = duration_or("/smtp/timeout", s.timeout);
    if (smtp.contains("ca_file")) s.ca_file = file_at(smtp["ca_file"]);
    s.attempts = smtp.value("attempts", s.attempts);
    s.backoff = duration_or("/smtp/backoff", s.backoff);
    s.max_backoff = duration_or("/smtp/max_backoff", s.max_backoff);
    if (smtp.contains("dead_letter")) s.dead_letter = file_at(smtp["dead_letter"]);
    if (!s.password.empty()) config.secrets.push_back(s.password);
    config.smtp = std::move(s);
  }
  if (root.contains("webhook_delivery")) {
    WebhookDeliverySettings& w = config.webhook_delivery;
    w.attempts = root["webhook_delivery"].value("attempts", w.attempts);
    w.backoff = duration_or("/webhook_delivery/backoff", w.backoff);
    w.max_backoff = duration_or("/webhook_delivery/max_backoff", w.max_backoff);
    w.timeout = duration_or("/webhook_delivery/timeout", w.timeout);
    // A request longer than the outbox's lock on it would let another host send it again.
    if (w.timeout < std::chrono::seconds(1) || w.timeout > std::chrono::minutes(5)) {
      diagnostics.push_back(doc->error_at(doc->text_position("/webhook_delivery/timeout"),
                                          "webhook_delivery.timeout: " + std::to_string(w.timeout.count()) +
                                              " ms: expected from 1s to 5m"));
      w.timeout = std::chrono::seconds(10);
    }
  }
  if (root.contains("databases"))
    for (const auto& [name, db] : root["databases"].items())
      if (auto settings = read_database(*doc, pointer_append("/databases", name), db, file_at, diagnostics))
        config.databases[name] = std::move(*settings);
  if (root.contains("registries"))
    for (const auto& [host, reg] : root["registries"].items()) {
      RegistrySettings r{reg.value("url", "https://" + host), reg.value("user", ""), reg.value("password", "")};
      while (!r.url.empty() && r.url.back() == '/') r.url.pop_back();
      if (!r.password.empty()) config.secrets.push_back(r.password);
      config.registries[host] = std::move(r);
    }
  if (root.contains("storage"))
    for (const auto& [name, entry] : root["storage"].items())
      if (auto settings = read_storage(*doc, pointer_append("/storage", name), entry, diagnostics))
        config.storage[name] = std::move(*settings);
  if (root.contains("http")) {
    const auto& http = root["http"];
    if (http.contains("ca_file")) config.http.ca_file = file_at(http["ca_file"]);
    config.http.max_response_bytes = static_cast<size_t>(http.value("max_response_kb", 16384)) << 10;
    config.http.max_redirects = http.value("max_redirects", config.http.max_redirects);
  }
  if (root.contains("server")) read_server(*doc, root["server"], file_at, config.server, diagnostics);
  if (root.contains("notify")) {
    // The operator's block is trusted (no allowlist), but still read strictly.
    config.notify = notify::read_notify_block(*doc, "/notify", diagnostics);
    const auto& mail = root["notify"].value("mail", nlohmann::json());
    for (size_t i = 0; i < config.notify.mail.size(); ++i)
      if (!api::mail_address(config.notify.mail[i])) {
        const std::string pointer = mail.is_array() ? "/notify/mail/" + std::to_string(i) : "/notify/mail";
        diagnostics.push_back(doc->error_at(doc->text_position(pointer), pointer_to_key(pointer) + ": '" +
                                                                            config.notify.mail[i] + "' is not a mail address"));
      }
  }
  collect_secrets(*doc, root, "", config.secrets);
  for (const auto& part : doc->secret_parts()) config.secrets.push_back(part);
  if (root.contains("log")) {
    const auto& log = root["log"];
    config.log.level = log.value("level", config.log.level);
    config.log.format = log.value("format", config.log.format);
    if (log.contains("file")) {
      fs::path p = log["file"].get<std::string>();
      config.log.file = p.is_relative() ? dir / p : p;
    }
    config.log.rotate = log.value("rotate", config.log.rotate);
    read_log_rotation(*doc, log, config.log, diagnostics);
  }
  if (error_count(diagnostics) != errors_before) return std::nullopt;
  return config;
}

bool url_holds_password(const std::string& url) {
  const std::string authority = url.substr(url.find("://") + 3);
  const std::string userinfo = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = userinfo.rfind('@'); at != std::string::npos && userinfo.substr(0, at).find(':') != std::string::npos)
    return true;
  for (size_t at = url.find_first_of("?&"); at != std::string::npos; at = url.find('&', at + 1))
    if (url.compare(at + 1, 9, "password=") == 0) return true;
  return false;
}

}  // namespace cronhost::config
