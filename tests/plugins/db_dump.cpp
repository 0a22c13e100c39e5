// db_dump.cpp: a C++ test plugin for the host's db_dump (ABI 1.2). It dumps the database its
// params name and reports what the host answered, succeeding either way so that tests read
// the status; after a dump it stats the file through the host's files call:
//
//   params: {"db": "app", "options": {"path": "/tmp/site/backups/app.db.gz", "gzip": true}}
//   result: {"has_db_dump": true, "status": 0, "dump": {"path", "bytes", ...}, "stat": {"size", ...}}
//           {"has_db_dump": true, "status": 2, "error": "... (allow.db)"}
#include <string>

#include <nlohmann/json.hpp>

#include <cronhost/plugin.hpp>

namespace {

using nlohmann::json;

void run(cronhost::Host& host) {
  const json params = json::parse(host.params());
  json result = {{"has_db_dump", CRONHOST_HOST_HAS(host.api(), db_dump) != 0}};
  try {
    const json dump = json::parse(host.db_dump(params.at("db").get<std::string>(), params.at("options").dump()));
    result["status"] = CRONHOST_OK;
    result["dump"] = dump;
    if (!dump.contains("dry_run"))
      result["stat"] = json::parse(host.files("stat", json{{"path", dump.at("path")}}.dump()));
  } catch (const cronhost::Error& e) {
    result["status"] = e.status();
    result["error"] = e.what();
  }
  host.set_result(result.dump());
}

}  // namespace

CRONHOST_PLUGIN("db_dump", "1.0.0", "Dumps the database its params name", run)
