#include "cli/api_client.hpp"

#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cronhost::cli {
namespace {

constexpr int kTimeoutSeconds = 30;

std::string trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

void add_server_options(CLI::App* cmd, ServerOptions& options) {
  cmd->add_option("--server", options.url, "A running host's API, e.g. http://127.0.0.1:8080");
  // CRONHOST_TOKEN holds the token itself, not a file's name (the host reads its own tokens
  // from server.tokens, e.g. CRONHOST_ADMIN_TOKEN in the repository's cronhost.yaml).
  cmd->add_option("--token-file", options.token_file,
                  "File holding the API token; without it, the token itself from CRONHOST_TOKEN");
}

std::string url_encode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += std::string("%") + kHex[c >> 4] + kHex[c & 15];
  }
  return out;
}

Result<std::unique_ptr<ApiClient>> ApiClient::connect(const ServerOptions& options) {
  using R = Result<std::unique_ptr<ApiClient>>;
  std::string token;
  if (!options.token_file.empty()) {
    std::ifstream in(options.token_file);
    if (!in) return R::error("cannot read the token file " + options.token_file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    token = trimmed(buffer.str());
  } else if (const char* env = std::getenv("CRONHOST_TOKEN")) {
    token = trimmed(env);
  }
  if (token.empty()) return R::error("--server needs a token: --token-file FILE or CRONHOST_TOKEN");
  std::string url = options.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const auto scheme_end = url.find("://");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return R::error("--server " + options.url + ": expected http://HOST:PORT or https://HOST:PORT");
  if (url.find('/', scheme_end + 3) != std::string::npos)
    return R::error("--server " + options.url + ": expected no path after HOST:PORT");
  auto client = std::make_unique<httplib::Client>(url);
  client->set_connection_timeout(kTimeoutSeconds, 0);
  client->set_read_timeout(kTimeoutSeconds, 0);
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(client), url, token));
}

ApiClient::ApiClient(std::unique_ptr<httplib::Client> client, std::string url, std::string token)
    : client_(std::move(client)), url_(std::move(url)), token_(std::move(token)) {}

ApiClient::~ApiClient() = default;

Result<nlohmann::json> ApiClient::call(const std::string& method, const std::string& path, const nlohmann::json& body) {
  using R = Result<nlohmann::json>;
  const httplib::Headers headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
  httplib::Result response = method == "GET"      ? client_->Get(path, headers)
                             : method == "DELETE" ? client_->Delete(path, headers)
                             : method == "PUT"    ? client_->Put(path, headers, body.dump(), "application/json")
                                                  : client_->Post(path, headers, body.dump(), "application/json");
  if (!response) return R::error("cannot reach " + url_ + ": " + httplib::to_string(response.error()));
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status >= 200 && response->status <= 299) {
    if (json.is_discarded()) return R::error(url_ + path + " answered something that is not JSON");
    return json;
  }
  std::string message = "HTTP " + std::to_string(response->status);
  if (!json.is_discarded() && json.contains("error") && json["error"].is_object())
    message = json["error"].value("message", message) + " (HTTP " + std::to_string(response->status) + ")";
  return R::error(message);
}

}  // namespace cronhost::cli
