// The dashboard: index.html at / and its files by name, from the binary or from
// server.dashboard_dir. The page itself needs no token; its API calls do.
#include <fstream>
#include <sstream>

#include "server/dashboard_assets.hpp"
#include "server/routes.hpp"

namespace cronhost::server {
namespace {

std::string_view content_type(std::string_view name) {
  const auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

void serve(const ApiContext& ctx, std::string name, httplib::Response& res) {
  if (name.empty()) name = "index.html";
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
  if (!ctx.settings.dashboard_dir.empty()) {  // for working on the dashboard: edits show on reload
    std::ifstream in(ctx.settings.dashboard_dir / name, std::ios::binary);
    if (in) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      res.set_header("Cache-Control", "no-store");
      return res.set_content(buffer.str(), std::string(content_type(name)));
    }
  } else {
    for (const auto& asset : dashboard_assets())
      if (asset.name == name) {
        res.set_header("Cache-Control", "no-cache");
        return res.set_content(asset.content.data(), asset.content.size(), std::string(content_type(name)));
      }
  }
  res.status = 404;
  res.set_content("not found\n", "text/plain");
}

}  // namespace

void add_dashboard_routes(httplib::Server& server, const ApiContext& ctx) {
  // Names only (letters, digits, '.', '_', '-'), so a path can never leave the folder.
  server.Get(R"(/([A-Za-z0-9_-][A-Za-z0-9._-]*)?)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    serve(ctx, req.matches[1], res);
  });
}

}  // namespace cronhost::server
