#include "api/pg_listener.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "util/log.hpp"

namespace cronhost::api {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kFirstRetry{500}, kLastRetry{30000};

struct Finish {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, Finish>;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Waits up to kPollTick for `events` on the connection's socket. False: not ready yet.
bool ready(PGconn* conn, short events) {
  pollfd fd{PQsocket(conn), events, 0};
  return ::poll(&fd, 1, static_cast<int>(PgListener::kPollTick.count())) > 0;
}

// Sends LISTEN and waits for its answer without blocking: a server that accepted the
// connection but stopped answering must not hold up a stop. Empty on success.
std::string send_listen(PGconn* conn, const std::string& channel, Clock::time_point until,
                        const std::atomic<bool>& stopping) {
  std::unique_ptr<char, decltype(&PQfreemem)> quoted(PQescapeIdentifier(conn, channel.c_str(), channel.size()),
                                                     &PQfreemem);
  if (!quoted || !PQsendQuery(conn, ("LISTEN " + std::string(quoted.get())).c_str()))
    return trimmed(PQerrorMessage(conn));
  while (PQflush(conn) == 1) {
    if (stopping || Clock::now() >= until) return "LISTEN was not sent within the connect timeout";
    ready(conn, POLLOUT);
  }
  std::string error;
  for (;;) {
    while (PQisBusy(conn)) {
      if (stopping || Clock::now() >= until) return "LISTEN got no answer within the connect timeout";
      if (ready(conn, POLLIN) && !PQconsumeInput(conn)) return trimmed(PQerrorMessage(conn));
    }
    PGresult* result = PQgetResult(conn);
    if (!result) return error;
    if (PQresultStatus(result) != PGRES_COMMAND_OK && error.empty()) error = trimmed(PQresultErrorMessage(result));
    PQclear(result);
  }
}

}  // namespace

PgListener::PgListener(std::string source, config::DatabaseSettings settings, std::string channel,
                       std::function<void()> on_notify)
    : source_(std::move(source)), settings_(std::move(settings)), channel_(std::move(channel)),
      on_notify_(std::move(on_notify)) {
  thread_ = std::thread([this] { loop(); });
}

PgListener::~PgListener() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void PgListener::loop() {
  const std::string application = "cronhost listen " + source_;
  const std::string ca = settings_.tls.ca.string();
  // Keepalives: a server that vanishes without closing the connection is noticed in about a minute.
  std::vector<const char*> keys{"dbname", "application_name", "client_encoding", "keepalives", "keepalives_idle",
                                "keepalives_interval", "keepalives_count"};
  std::vector<const char*> values{settings_.url.c_str(), application.c_str(), "UTF8", "1", "30", "10", "3"};
  if (!settings_.password.empty()) keys.push_back("password"), values.push_back(settings_.password.c_str());
  if (!settings_.tls.mode.empty()) keys.push_back("sslmode"), values.push_back(settings_.tls.mode.c_str());
  if (!ca.empty()) keys.push_back("sslrootcert"), values.push_back(ca.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);

  auto retry = kFirstRetry;
  std::string last_error;
  while (!stopping_) {
    std::string error;
    Conn conn(PQconnectStartParams(keys.data(), values.data(), 1));  // 1: dbname may be a URL
    if (!conn) error = "out of memory";
    if (conn) PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
    // Connecting without blocking, so that a stop is seen within a tick.
    const auto until = Clock::now() + settings_.connect_timeout;
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (conn && error.empty() && !stopping_ && state != PGRES_POLLING_OK) {
      if (state == PGRES_POLLING_FAILED || PQstatus(conn.get()) == CONNECTION_BAD) {
        error = trimmed(PQerrorMessage(conn.get()));
      } else if (Clock::now() >= until) {
        error = "no connection within the connect timeout of " + std::to_string(settings_.connect_timeout.count()) + " ms";
      } else if (ready(conn.get(), state == PGRES_POLLING_READING ? POLLIN : POLLOUT)) {
        state = PQconnectPoll(conn.get());
      }
    }
    if (stopping_) break;
    if (error.empty() && PQsetnonblocking(conn.get(), 1) != 0) error = trimmed(PQerrorMessage(conn.get()));
    if (error.empty()) error = send_listen(conn.get(), channel_, Clock::now() + settings_.connect_timeout, stopping_);
    if (error.empty()) {
      log_event(spdlog::level::info, "listening for NOTIFY", {{"source", source_}, {"channel", channel_}});
      last_error.clear();
      retry = kFirstRetry;
      on_notify_();  // NOTIFYs sent while not listening are lost: read once now
      while (!stopping_) {
        if (!ready(conn.get(), POLLIN)) continue;
        if (!PQconsumeInput(conn.get()) || PQstatus(conn.get()) == CONNECTION_BAD) {
          error = "the connection was lost: " + trimmed(PQerrorMessage(conn.get()));
          break;
        }
        bool notified = false;
        while (PGnotify* notify = PQnotifies(conn.get())) {
          PQfreemem(notify);
          notified = true;
        }
        if (notified) on_notify_();
      }
      if (stopping_) break;
    }
    conn.reset();
    if (error != last_error)
      log_event(spdlog::level::warn, "a table source's LISTEN connection failed; retrying (every: still re-reads)",
                {{"source", source_}, {"channel", channel_}, {"error", error}, {"retry_ms", retry.count()}});
    last_error = error;
    for (auto waited = std::chrono::milliseconds(0); waited < retry && !stopping_; waited += kPollTick)
      std::this_thread::sleep_for(kPollTick);
    retry = std::min(retry * 2, kLastRetry);
  }
}

}  // namespace cronhost::api
