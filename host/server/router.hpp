// Routes of the admin API on an httplib server, each behind the bearer-token check: no or an
// unknown token gets 401, a role without the route's permission 403. Handlers run on the
// server's worker threads.
#pragma once
#include <httplib.h>

#include <functional>
#include <string>

#include "server/auth.hpp"

namespace cronhost::server {

// The caller a request's token names, or nothing after replying 401.
std::optional<Caller> authenticate(const TokenTable& tokens, const httplib::Request& req, httplib::Response& res);

// Installs routes; it may go once they are installed (they keep the token table, not it).
class Router {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const Caller&)>;
  Router(httplib::Server& server, const TokenTable& tokens) : server_(server), tokens_(tokens) {}

  void get(const std::string& pattern, Permission need, Handler handler);
  void post(const std::string& pattern, Permission need, Handler handler);
  void put(const std::string& pattern, Permission need, Handler handler);
  void del(const std::string& pattern, Permission need, Handler handler);
  // Served without a token (/health and /metrics when the config opens them).
  void open_get(const std::string& pattern, httplib::Server::Handler handler) { server_.Get(pattern, std::move(handler)); }
 private:
  httplib::Server::Handler guarded(Permission need, Handler handler) const;

  httplib::Server& server_;
  const TokenTable& tokens_;
};

}  // namespace cronhost::server
