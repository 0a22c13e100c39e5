// The admin HTTP(S) server inside the daemon: the API, /health, /metrics and the dashboard.
// Serves on its own threads from start() to stop(); the ApiContext's parts must outlive it.
#pragma once
#include <memory>
#include <thread>

#include "server/api_context.hpp"
#include "util/status.hpp"

namespace httplib {
class Server;
}

namespace cronhost::server {

class ConnectionGuard;

class ApiServer {
 public:
  explicit ApiServer(ApiContext context);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the configured address (TLS when a certificate is configured) and starts serving;
  // writes server.port_file once listening. An error when it cannot (port taken, bad TLS
  // files): the host then refuses to start rather than run without its API.
  Status start();
  // Stops accepting, finishes requests in progress, joins the threads.
  void stop();
  int port() const { return port_; }
  // The tokens of a reloaded host config; the other server settings take effect at restart.
  void replace_tokens(std::vector<config::ApiToken> tokens) { tokens_.replace(std::move(tokens)); }

 private:
  ApiContext context_;
  TokenTable tokens_;
  std::unique_ptr<ConnectionGuard> guard_;  // outlives server_: its threads call it
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace cronhost::server
