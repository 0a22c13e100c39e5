#include "server/router.hpp"

#include "server/http_json.hpp"

namespace cronhost::server {

std::optional<Caller> authenticate(const TokenTable& tokens, const httplib::Request& req, httplib::Response& res) {
  auto caller = tokens.authenticate(req.get_header_value("Authorization"));
  if (!caller) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"cronhost\"");
    reply_error(res, 401, "unauthorized",
                req.has_header("Authorization") ? "the token is not valid" : "an Authorization: Bearer token is required");
  }
  return caller;
}

httplib::Server::Handler Router::guarded(Permission need, Handler handler) const {
  // Captures the token table, not the router: routes outlive the Router that installed them.
  return [&tokens = tokens_, need, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    auto caller = authenticate(tokens, req, res);
    if (!caller) return;
    if (!role_grants(caller->role, need)) {
      reply_error(res, 403, "forbidden",
                  "the token \"" + caller->name + "\" has the role " + std::string(role_name(caller->role)) +
                      ", which may not do this");
      return;
    }
    handler(req, res, *caller);
  };
}

void Router::get(const std::string& pattern, Permission need, Handler handler) {
  server_.Get(pattern, guarded(need, std::move(handler)));
}
void Router::post(const std::string& pattern, Permission need, Handler handler) {
  server_.Post(pattern, guarded(need, std::move(handler)));
}
void Router::put(const std::string& pattern, Permission need, Handler handler) {
  server_.Put(pattern, guarded(need, std::move(handler)));
}
void Router::del(const std::string& pattern, Permission need, Handler handler) {
  server_.Delete(pattern, guarded(need, std::move(handler)));
}

}  // namespace cronhost::server
