// cronhost trigger | enable | disable JOB --server URL: act on a running host through its API
// (the action is audited under the token's name).
#include <iostream>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"

namespace cronhost::cli {
namespace {

struct RemoteOptions {
  ServerOptions server;
  std::string job;
  std::vector<std::string> params;  // KEY=VALUE
  bool json = false;
};

// KEY=VALUE pairs as a JSON object; values that read as JSON (numbers, true, [..]) are JSON.
Result<nlohmann::json> params_object(const std::vector<std::string>& pairs) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return Result<nlohmann::json>::error("--param " + pair + ": expected KEY=VALUE");
    const std::string value = pair.substr(eq + 1);
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    params[pair.substr(0, eq)] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
  }
  return params;
}

std::unique_ptr<ApiClient> connect(const RemoteOptions& o, const char* command) {
  if (o.server.url.empty()) {
    std::cerr << "cronhost: error: " << command << " acts on a running host: give --server URL\n";
    return nullptr;
  }
  auto client = ApiClient::connect(o.server);
  if (!client) {
    std::cerr << "cronhost: error: " << client.message() << "\n";
    return nullptr;
  }
  return std::move(client).value();
}

int report(const Result<nlohmann::json>& answer, const std::function<std::string(const nlohmann::json&)>& text, bool json) {
  if (!answer) {
    std::cerr << "cronhost: error: " << answer.message() << "\n";
    return kExitFailed;
  }
  std::cout << (json ? answer.value().dump(2) : text(answer.value())) << "\n";
  return kExitOk;
}

}  // namespace

Command add_remote_commands(CLI::App& app) {
  auto o = std::make_shared<RemoteOptions>();
  auto* trigger = app.add_subcommand("trigger", "Start a run of JOB now on a running host (--server)");
  trigger->add_option("job", o->job, "Job name")->required();
  trigger->add_option("--param", o->params, "KEY=VALUE merged over the job's params (repeatable)");
  auto* enable = app.add_subcommand("enable", "Let JOB fire again on a running host (--server)");
  enable->add_option("job", o->job, "Job name")->required();
  auto* disable = app.add_subcommand("disable", "Stop JOB from firing on a running host (--server); kept over restarts");
  disable->add_option("job", o->job, "Job name")->required();
  for (auto* cmd : {trigger, enable, disable}) {
    add_server_options(cmd, o->server);
    cmd->add_flag("--json", o->json, "Print the API's answer as JSON");
    cmd->footer("Exit 0 on success, 1 when the host refuses or cannot be reached, 2 for usage errors.");
  }
  return [=]() -> int {
    const char* name = trigger->parsed() ? "trigger" : enable->parsed() ? "enable" : "disable";
    auto client = connect(*o, name);
    if (!client) return kExitUsage;
    const std::string path = "/api/jobs/" + url_encode(o->job);
    if (trigger->parsed()) {
      auto params = params_object(o->params);
      if (!params) {
        std::cerr << "cronhost: error: " << params.message() << "\n";
        return kExitUsage;
      }
      return report(client->call("POST", path + "/trigger", {{"params", params.value()}}),
                    [&](const nlohmann::json& j) { return "run " + j["run_id"].dump() + " of " + o->job + " started"; },
                    o->json);
    }
    return report(client->call("POST", path + "/" + name),
                  [&](const nlohmann::json& j) {
                    return o->job + " is " + (j.value("enabled", false) ? "enabled" : "disabled") + "; next fire " +
                           (j["next_fire"].is_null() ? "none" : j["next_fire"].get<std::string>());
                  },
                  o->json);
  };
}

}  // namespace cronhost::cli
