// The operator's host config (cronhost.yaml): where things live and how the host behaves.
// Loaded once at start (and on SIGHUP, later); plain data afterwards.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/user_ids.hpp"
#include "notify/notify_spec.hpp"
#include "schedule/zone.hpp"
#include "util/duration.hpp"

namespace cronhost::config {

struct LogSettings {
  std::string level = "info";
  std::string format = "text";  // text (logfmt) | json
  std::filesystem::path file;   // empty: stderr only
  // daily: at local midnight FILE becomes FILE.YYYY-MM-DD, keep of them kept; size: past
  // max_size_bytes FILE becomes FILE.1 (FILE.1 -> FILE.2 ...), keep of them kept; none: FILE
  // alone, for logrotate (its postrotate sends SIGUSR1, which reopens FILE in every mode).
  std::string rotate = "daily";
  int keep = 7;
  uint64_t max_size_bytes = uint64_t{100} << 20;
};

// Where mail goes (smtp:). The password is a secret: redacted wherever it could show.
struct SmtpSettings {
  std::string host;
  int port = 587;
  std::string tls = "starttls";  // starttls | implicit | none
  std::string user, password;
  std::string from;              // "Name <addr@host>" or addr@host
  Millis timeout = std::chrono::seconds(30);
  std::filesystem::path ca_file;  // extra CA bundle (a private relay); empty: the system's
  // Undeliverable mail waits in the outbox and is retried with doubling delays; after the
  // last attempt it is appended to the dead-letter file.
  int attempts = 8;
  Millis backoff = std::chrono::minutes(1);
  Millis max_backoff = std::chrono::hours(1);
  std::filesystem::path dead_letter;  // empty: beside the state file in use (STATE.dead-letter.jsonl)
};

// How webhook notifications are delivered (webhook_delivery:): each POST is bounded by
// `timeout`; one not delivered (no answer, 5xx, 408, 429) is retried after `backoff`, doubled
// each time up to `max_backoff`, until `attempts` were made; then it is kept as failed.
struct WebhookDeliverySettings {
  int attempts = 8;
  Millis backoff = std::chrono::seconds(30);
  Millis max_backoff = std::chrono::hours(1);
  Millis timeout = std::chrono::seconds(10);
};

// A database jobs may open by name (databases:).
enum class DbEngine { kSqlite, kPostgresql, kMysql };

// How a server connection is secured: as libpq's sslmode; MySQL maps them to its ssl-mode.
struct DbTls {
  std::string mode;           // disable | prefer | require | verify-ca | verify-full; empty: the URL's or the client's default
  std::filesystem::path ca;   // PEM CA certificate; empty: the system's
};

struct DatabaseSettings {
  DbEngine engine = DbEngine::kSqlite;
  std::filesystem::path sqlite;  // kSqlite: the file
  std::string url;               // kPostgresql, kMysql: scheme://user@host:port/database[?options], no password
  std::string password;          // a secret (${env:}/${file:}); never part of url
  DbTls tls;
  std::chrono::milliseconds connect_timeout{10000};
  bool readonly = false;
};

// Credentials and address of a container registry (registries:, keyed by host[:port]).
struct RegistrySettings {
  std::string url;  // base URL; default https://HOST
  std::string user, password;
};

// An object store jobs may reach by name (storage:, allow.storage). Keys, secret keys and SAS
// tokens are secrets: given only as ${env:}/${file:}, redacted wherever they could show.
struct S3Settings {
  std::string endpoint;  // https://s3.REGION.amazonaws.com or an S3-compatible server
  std::string region = "us-east-1";
  std::string bucket;
  std::string access_key, secret_key;
  bool path_style = false;  // ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT-HOST/KEY
};
struct AzureBlobSettings {
  std::string account, container;
  std::string key;       // the account's Shared Key (base64), or
  std::string sas;       // a shared access signature (the query string, with or without '?')
  std::string endpoint;  // default https://ACCOUNT.blob.core.windows.net
};
struct StorageSettings {
  enum class Kind { kS3, kAzureBlob } kind = Kind::kS3;
  S3Settings s3;
  AzureBlobSettings azure;
  // Files above multipart_threshold go up in parts (S3 multipart, Azure blocks) of part_size
  // (grown for files that would need more than 10,000 parts), each read from disk as it is sent.
  size_t part_size = size_t{16} << 20;
  size_t multipart_threshold = size_t{512} << 20;
};

// Limits of the http API.
struct HttpSettings {
  std::filesystem::path ca_file;  // extra CA bundle; empty: the system's
  size_t max_response_bytes = size_t{16} << 20;
  int max_redirects = 5;
};

// The admin HTTP API (server:). Token values are secrets.
enum class Role { kViewer, kOperator, kApprover, kAdmin };
struct ApiToken {
  std::string name;
  Role role = Role::kViewer;
  std::string token;
};
struct ServerSettings {
  bool enabled = true;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::filesystem::path port_file;  // written with the bound port once listening
  std::filesystem::path tls_cert, tls_key;  // both set: HTTPS
  std::vector<ApiToken> tokens;
  std::vector<std::string> empty_tokens;  // names of tokens left out because their value is empty
  bool open_health = false, open_metrics = false;  // served without a token
  std::vector<std::string> registration_urls;      // where registered jobs' HTTP runners may call
  size_t max_body_bytes = size_t{1} << 20;
  int threads = 16;
  std::filesystem::path dashboard_dir;  // empty: the dashboard built into the binary
  std::string public_url;  // the dashboard as people reach it, without a trailing '/'; empty: notifications carry no link
};

struct HostConfig {
  std::filesystem::path source;  // the file read, or empty for built-in defaults
  std::filesystem::path jobs_dir = "jobs.d";
  std::filesystem::path state_file = "cronhost.db";  // the SQLite state (state: PATH)
  // state: postgresql://... (or a mapping like a databases: entry): the state in PostgreSQL,
  // shared by every host that names it; state_file is then unused.
  std::optional<DatabaseSettings> state_server;
  // cluster: {lease: 5s}: how long a run claimed on PostgreSQL state stays its host's without a
  // renewal (renewed every second); after it, any host may reap the run. At least 1s.
  Millis cluster_lease = std::chrono::seconds(5);
  std::shared_ptr<const schedule::Zone> timezone = schedule::Zone::utc();
  int workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Millis shutdown_grace = std::chrono::seconds(30);
  LogSettings log;
  size_t run_memory_bytes = size_t{64} << 20;
  size_t run_output_bytes = size_t{64} << 10;
  int history_keep_days = 90;
  int history_keep_per_job = 10'000;
  // metrics: {max_jobs: 500}: /metrics labels this many jobs (by name); the rest are summed
  // under job="_other", so a host with thousands of jobs stays scrapeable. 0: no limit.
  int metrics_max_jobs = 500;
  std::optional<SmtpSettings> smtp;
  WebhookDeliverySettings webhook_delivery;
  std::map<std::string, DatabaseSettings> databases;
  std::map<std::string, RegistrySettings> registries;
  std::map<std::string, StorageSettings> storage;
  HttpSettings http;
  ServerSettings server;
  std::vector<std::string> secrets;  // values never to print: passwords and ${env:}/${file:} values
  std::string run_as;                // "uid:gid" isolated runs switch to (run_as:, a name resolved); empty: the host's
  notify::NotifyBlock notify;        // the default every job's notify: is merged over (notify/notify_spec.hpp)
};

// Whether a database URL carries a password (user:password@ or ?password=), which cronhost
// refuses: it would show wherever the URL is shown.
bool url_holds_password(const std::string& url);

// Reads `path`; relative paths inside resolve against the file's folder. Problems are
// appended to `diagnostics` and nothing is returned if any is an error. The jobs folder and the
// state file the file leaves out come from `defaults` (a service's are not ./jobs.d, ./cronhost.db).
// run_as: names a user through `users` (user_ids, config/user_ids.hpp). Without it a name is
// kept as written, which a runner refuses (it takes only uid:gid): bin/cronhost, static,
// passes none and answers only `next --expr`.
using UserLookup = Result<std::string> (*)(const std::string& name);
std::optional<HostConfig> load_host_config(const std::filesystem::path& path, Diagnostics& diagnostics,
                                           const HostConfig& defaults = HostConfig{}, UserLookup users = user_ids);

}  // namespace cronhost::config
