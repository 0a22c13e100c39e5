// capabilities.cpp: a C++ test plugin that goes through the host table for an integration
// test, one capability per param given (each optional):
//
//   params: {"url": "http://127.0.0.1:8080/", "db": "app", "folder": "/tmp/site/out", "mail_to": "ops@acme.test"}
//   result: {"runs": 3, "time_left_ms": 29950,
//            "http": {"status": 200},
//            "db": {"inserted": 1, "rows": [{"x": 42}, ...]},      (one row more each run)
//            "files": {"content": "written by capabilities", "names": ["out.txt", ...]},
//            "mail": {"sent": true}}                               (mail_send's outcome)
//
// "runs" counts this job's runs in the state key "runs". Any failing call throws, which fails
// the run with the host's message.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <cronhost/plugin.hpp>

namespace {

using nlohmann::json;

constexpr const char* kFileContent = "written by capabilities";

// params[name] when given: it must then be a string.
std::string optional_string(const json& params, const char* name) {
  const auto value = params.find(name);
  if (value == params.end() || value->is_null()) return "";
  if (!value->is_string()) throw std::invalid_argument(std::string("params.") + name + " must be a string");
  return value->get<std::string>();
}

json try_http(const cronhost::Host& host, const std::string& url) {
  const json response = json::parse(host.http(json{{"method", "GET"}, {"url", url}}.dump()));
  return {{"status", response.at("status")}};
}

json try_db(const cronhost::Host& host, const std::string& db) {
  host.db_exec(db, "CREATE TABLE IF NOT EXISTS t(x)");
  const int64_t inserted = host.db_exec(db, "INSERT INTO t(x) VALUES (?)", "[42]");
  return {{"inserted", inserted}, {"rows", json::parse(host.db_query(db, "SELECT x FROM t"))}};
}

json try_files(const cronhost::Host& host, const std::string& folder) {
  const std::string path = folder + "/out.txt";
  host.files("write", json{{"path", path}, {"content", kFileContent}}.dump());
  const std::string content = host.files("read", json{{"path", path}}.dump());
  json names = json::array();
  for (const json& entry : json::parse(host.files("list", json{{"path", folder}}.dump()))) names.push_back(entry.at("name"));
  return {{"content", content}, {"names", names}};
}

json try_mail(const cronhost::Host& host, const std::string& to) {
  const json message = {{"to", json::array({to})}, {"subject", "capabilities"}, {"text", "Sent by the capabilities test plugin.\n"}};
  return json::parse(host.mail(message.dump()));
}

// The state counter "runs", incremented: 1 on the first run.
int64_t count_run(const cronhost::Host& host) {
  const auto stored = host.state_get("runs");
  const int64_t runs = (stored ? json::parse(*stored).get<int64_t>() : 0) + 1;
  host.state_put("runs", std::to_string(runs));
  return runs;
}

void run(cronhost::Host& host) {
  const json params = json::parse(host.params());
  const std::string url = optional_string(params, "url");
  const std::string db = optional_string(params, "db");
  const std::string folder = optional_string(params, "folder");
  const std::string mail_to = optional_string(params, "mail_to");

  json result = {{"runs", count_run(host)}, {"time_left_ms", host.time_left_ms()}};
  if (!url.empty()) result["http"] = try_http(host, url);
  if (!db.empty()) result["db"] = try_db(host, db);
  if (!folder.empty()) result["files"] = try_files(host, folder);
  if (!mail_to.empty()) result["mail"] = try_mail(host, mail_to);
  host.info("capabilities: " + result.dump());
  host.set_result(result.dump());
}

}  // namespace

CRONHOST_PLUGIN("capabilities", "1.0.0", "Calls each host capability its params name", run)
