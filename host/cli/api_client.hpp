// The command line's side of the admin API: `--server URL` (and `--token-file F`, else the
// CRONHOST_TOKEN environment variable) make trigger, enable, disable and approvals talk to a
// running host instead of the state file. One request per call; not thread-safe.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "util/status.hpp"

namespace httplib {
class Client;
}

namespace cronhost::cli {

struct ServerOptions {
  std::string url;         // empty: no server, work on the state file
  std::string token_file;  // empty: $CRONHOST_TOKEN
};

// Adds --server and --token-file to `cmd`.
void add_server_options(CLI::App* cmd, ServerOptions& options);

class ApiClient {
 public:
  // Reads the token and checks the URL (http:// or https://, no path).
  static Result<std::unique_ptr<ApiClient>> connect(const ServerOptions& options);
  ~ApiClient();

  // The response's JSON for a 2xx; otherwise an error with the API's message and status.
  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nlohmann::json::object());

 private:
  ApiClient(std::unique_ptr<httplib::Client> client, std::string url, std::string token);
  std::unique_ptr<httplib::Client> client_;
  std::string url_, token_;
};

// "a b/c" -> "a%20b%2Fc", for ids and names in a path.
std::string url_encode(const std::string& text);

}  // namespace cronhost::cli
