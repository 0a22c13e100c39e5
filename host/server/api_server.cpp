#include "server/api_server.hpp"

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "server/connection_guard.hpp"
#include "server/http_json.hpp"
#include "server/routes.hpp"
#include "util/log.hpp"

namespace cronhost::server {
namespace {

// A stalled client holds a worker thread at most this long between two bytes (the guard
// bounds the whole head and request: server/connection_guard.hpp).
constexpr int kReadTimeoutSeconds = 5;
constexpr int kWriteTimeoutSeconds = 10;
// Each open connection holds a worker thread while it idles between requests; a short idle
// limit keeps a few idle browsers from making everyone else wait (measured: with 8 idle
// connections on 8 threads the next request waited 4.8 s at httplib's default of 5 s).
constexpr int kKeepAliveSeconds = 1;

// httplib's thread pool with every connection under the guard.
class GuardedPool final : public httplib::TaskQueue {
 public:
  GuardedPool(size_t threads, ConnectionGuard& guard) : pool_(threads), guard_(guard) {}
  void enqueue(std::function<void()> serve) override { pool_.enqueue(guard_.admit(std::move(serve))); }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  ConnectionGuard& guard_;
};

Status write_port_file(const std::filesystem::path& path, int port) {
  // A temporary name of this process's own: hosts sharing one port file (tests, a shared
  // folder) would otherwise rename each other's temporary away.
  const auto temp = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) return Status::error("cannot write " + temp);
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);  // readers never see half a number
  return ec ? Status::error("cannot write " + path.string() + ": " + ec.message()) : Status::ok();
}

}  // namespace

ApiServer::ApiServer(ApiContext context) : context_(context), tokens_(context.settings.tokens) {}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::start() {
  const auto& settings = context_.settings;
  guard_ = std::make_unique<ConnectionGuard>(static_cast<size_t>(settings.threads));
  if (!settings.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(settings.tls_cert.c_str(), settings.tls_key.c_str());
    if (!tls->is_valid())
      return Status::error("server.tls: cannot use the certificate " + settings.tls_cert.string() + " and key " +
                           settings.tls_key.string());
    server_ = std::move(tls);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *server_;
  // The guard's phases: a request's head has arrived; its response has gone.
  server.set_pre_routing_handler([guard = guard_.get()](const httplib::Request&, httplib::Response&) {
    guard->head_read();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_logger([guard = guard_.get()](const httplib::Request&, const httplib::Response&) { guard->response_sent(); });
  server.new_task_queue = [threads = settings.threads, guard = guard_.get()] {
    return new GuardedPool(static_cast<size_t>(threads), *guard);
  };
  server.set_payload_max_length(settings.max_body_bytes);
  // httplib writes the headers and the body separately: with Nagle's algorithm the body waits
  // for the client's delayed ACK, 40 ms per response (measured: p50 43 ms, 260 requests/s).
  server.set_tcp_nodelay(true);
  server.set_read_timeout(kReadTimeoutSeconds, 0);
  server.set_write_timeout(kWriteTimeoutSeconds, 0);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  // Every error the server makes itself (no route, body too large) is JSON like the rest.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string message =
        res.status == 404   ? "no such path: " + req.method + " " + req.path
        : res.status == 413 ? "the request body is too large"
        : res.status == 400 ? "malformed request (a POST or PUT without a body still needs Content-Length: 0)"
                            : "the request could not be served";
    reply_error(res, res.status, error_code_for(res.status), message);
  });
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    }
    log_event(spdlog::level::err, "api request failed", {{"method", req.method}, {"path", req.path}, {"error", what}});
    reply_error(res, 500, "internal", "the host failed to serve the request: " + what);
  });

  Router router(server, tokens_);
  add_status_routes(router, context_);
  add_job_routes(router, context_);
  add_run_routes(router, context_);
  add_run_stream_routes(router, context_);
  add_approval_routes(router, context_);
  add_dashboard_routes(server, context_);  // last: it matches any single-segment path

  if (settings.port == 0) {
    port_ = server.bind_to_any_port(settings.host);
    if (port_ < 0) port_ = 0;
  } else {
    port_ = server.bind_to_port(settings.host, settings.port) ? settings.port : 0;
  }
  if (port_ == 0)
    return Status::error("server.listen: cannot listen on " + settings.host + ":" + std::to_string(settings.port) +
                         " (" + std::strerror(errno) + ")");
  guard_->set_port(port_);
  thread_ = std::thread([&server] { server.listen_after_bind(); });
  if (!settings.port_file.empty())
    if (auto written = write_port_file(settings.port_file, port_); !written) return written;
  log_event(spdlog::level::info, "api listening",
            {{"address", settings.host + ":" + std::to_string(port_)}, {"tls", !settings.tls_cert.empty()},
             {"tokens", settings.tokens.size()}});
  return Status::ok();
}

void ApiServer::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
  guard_.reset();
}

}  // namespace cronhost::server
