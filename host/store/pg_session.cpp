#include "store/pg_session.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace cronhost::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// After a failed connect the next one waits 100 ms, doubling up to 1 s: a restarting server
// is back within a second or two, and a caller meanwhile gets the last error at once.
constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 1000ms;
// Set on every connection (design 2.1): times in UTC whatever the server's default; no
// statement or lock wait holds a caller past ~10 s; a transaction left open by a stopped
// process is ended by the server.
constexpr const char* kServerOptions =
    "-c TimeZone=UTC -c statement_timeout=10s -c lock_timeout=2s -c idle_in_transaction_session_timeout=5s";
constexpr const char* kReadOnlyOptions =
    "-c TimeZone=UTC -c statement_timeout=10s -c lock_timeout=2s -c idle_in_transaction_session_timeout=5s "
    "-c default_transaction_read_only=on";

// The server ends a statement after statement_timeout (10 s); a server that stopped answering
// (a stopped process, a frozen machine: its kernel still acknowledges TCP, so keepalives and
// tcp_user_timeout see nothing) is given up by the client 2 s after that.
constexpr auto kAnswerDeadline = std::chrono::seconds(12);

// Waits for `events` on the connection's socket until `until`. False: the time ran out.
bool wait_socket(PGconn* conn, short events, Clock::time_point until) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fd{PQsocket(conn), events, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left));
    if (ready > 0 || (ready < 0 && errno != EINTR)) return true;  // ready, or an error libpq reports next
  }
}

struct Clear {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, Clear>;

// libpq's messages end with a newline and may span lines ("FATAL: ...\nserver closed the
// connection unexpectedly\n\tThis probably means..."): one line, for the log and /health.
std::string trimmed(const char* text) {
  std::string out;
  for (const char* c = text ? text : ""; *c; ++c) {
    const bool space = *c == '\n' || *c == '\t' || *c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : *c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// SQLSTATEs that mean the session is over: connection exceptions (class 08) and the server
// shutting down or crashing (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
bool ends_session(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

}  // namespace

bool PgError::worth_retrying() const {
  if (connection_lost_ || ends_session(sqlstate_)) return true;
  return sqlstate_.rfind("40", 0) == 0 || sqlstate_.rfind("53", 0) == 0 || sqlstate_ == "55P03" ||
         sqlstate_ == "57014";
}

PgSession::PgSession(config::DatabaseSettings settings, std::string mode, OnConnect on_connect)
    : settings_(std::move(settings)), application_("cronhost/" + mode), on_connect_(std::move(on_connect)) {}

PgSession::~PgSession() {
  if (conn_) PQfinish(conn_);
}

std::string PgSession::redact(std::string message) const {
  // libpq does not echo the password, but a message must never carry it whatever the cause.
  if (settings_.password.size() < 3) return message;
  for (size_t at; (at = message.find(settings_.password)) != std::string::npos;)
    message.replace(at, settings_.password.size(), "***");
  return message;
}

void PgSession::drop(const std::string& why) {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  last_error_ = why;
}

void PgSession::open() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return;
  if (conn_) drop(last_error_.empty() ? "the connection was lost" : last_error_);
  if (Clock::now() < next_try_)
    throw PgError("the state database " + settings_.url + " is unreachable: " + last_error_, "08006", true);
  const std::string ca = settings_.tls.ca.string();
  const std::string timeout =
      std::to_string(std::max<int64_t>(2, (settings_.connect_timeout.count() + 999) / 1000));  // libpq: whole s, at least 2
  // Keepalives 5/1/3 and tcp_user_timeout: a server that vanishes without closing the
  // connection is noticed within ~8 s, and unacknowledged writes fail after 5 s.
  std::vector<const char*> keys{"dbname",    "application_name", "client_encoding",     "options",
                                "keepalives", "keepalives_idle",  "keepalives_interval", "keepalives_count",
                                "tcp_user_timeout", "connect_timeout"};
  std::vector<const char*> values{settings_.url.c_str(),
                                  application_.c_str(),
                                  "UTF8",
                                  settings_.readonly ? kReadOnlyOptions : kServerOptions,
                                  "1",
                                  "5",
                                  "1",
                                  "3",
                                  "5000",
                                  timeout.c_str()};
  if (!settings_.password.empty()) keys.push_back("password"), values.push_back(settings_.password.c_str());
  if (!settings_.tls.mode.empty()) keys.push_back("sslmode"), values.push_back(settings_.tls.mode.c_str());
  if (!ca.empty()) keys.push_back("sslrootcert"), values.push_back(ca.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);  // 1: dbname may be a URL
  std::string error;
  bool refused_by_hook = false;
  if (!conn_) {
    error = "out of memory";
  } else if (PQstatus(conn_) != CONNECTION_OK) {
    error = redact(trimmed(PQerrorMessage(conn_)));
  } else {
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // not on the host's stderr
    if (on_connect_) {
      if (auto status = on_connect_(*this); !status) error = status.message(), refused_by_hook = true;
    }
  }
  // Non-blocking: run() waits on the socket itself, so that a server that stopped answering
  // cannot hold a caller past kAnswerDeadline.
  if (error.empty() && PQsetnonblocking(conn_, 1) != 0) error = redact(trimmed(PQerrorMessage(conn_)));
  if (error.empty()) {
    backoff_ = 0ms;
    next_try_ = {};
    last_error_.clear();
    return;
  }
  drop(error);
  backoff_ = backoff_ == 0ms ? std::chrono::milliseconds(kFirstBackoff) : std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff);
  next_try_ = Clock::now() + backoff_;
  // The hook's own words stand alone ("another cronhost host uses the state database ...").
  throw PgError(refused_by_hook ? error : "cannot connect to the state database " + settings_.url + ": " + error,
                "08001", true);
}

Status PgSession::connect() {
  try {
    open();
    return Status::ok();
  } catch (const PgError& e) {
    return Status::error(e.what());
  }
}

PgRows PgSession::run(const std::string& sql, const std::vector<PgParam>& params) {
  open();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const auto until = Clock::now() + kAnswerDeadline;
  const auto no_answer = [this] {
    const std::string why = "no answer from the state database " + settings_.url + " within " +
                            std::to_string(kAnswerDeadline.count()) + " s";
    drop(why);
    return PgError(why, "08006", true);
  };
  PgResult result;
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr,
                        0)) {
    for (int flushed; (flushed = PQflush(conn_)) != 0;) {
      if (flushed < 0) break;  // PQgetResult reports why
      if (!wait_socket(conn_, POLLOUT, until)) throw no_answer();
    }
    bool broken = false;
    for (;;) {
      while (!broken && PQisBusy(conn_)) {
        if (!wait_socket(conn_, POLLIN, until)) throw no_answer();
        broken = !PQconsumeInput(conn_);
      }
      PgResult next(PQgetResult(conn_));
      if (!next) break;
      // The first result, or the error that followed it.
      const auto next_status = PQresultStatus(next.get());
      if (!result || (next_status != PGRES_COMMAND_OK && next_status != PGRES_TUPLES_OK)) result = std::move(next);
      if (broken) break;
    }
  }
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = result ? PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const std::string sqlstate = state ? state : "";
    std::string message = redact(primary ? std::string(primary) : trimmed(PQerrorMessage(conn_)));
    const bool lost = PQstatus(conn_) != CONNECTION_OK || ends_session(sqlstate);
    if (lost) {
      drop(message);
      throw PgError("the connection to the state database " + settings_.url + " was lost: " + message,
                    sqlstate.empty() ? "08006" : sqlstate, true);
    }
    throw PgError(message, sqlstate, false);
  }
  PgRows out;
  const int rows = PQntuples(result.get()), columns = PQnfields(result.get());
  out.rows.reserve(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    PgRow row;
    row.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c)
      row.push_back(PQgetisnull(result.get(), r, c) ? std::nullopt
                                                    : std::optional<std::string>(PQgetvalue(result.get(), r, c)));
    out.rows.push_back(std::move(row));
  }
  const std::string tag = PQcmdStatus(result.get());
  if (tag.rfind("INSERT", 0) == 0 || tag.rfind("UPDATE", 0) == 0 || tag.rfind("DELETE", 0) == 0) {
    const char* touched = PQcmdTuples(result.get());
    out.affected = touched && *touched ? std::stoll(touched) : 0;
    total_changes_ += out.affected;
  }
  return out;
}

Result<PgRows> PgSession::exec(const std::string& sql, const std::vector<PgParam>& params) {
  try {
    return run(sql, params);
  } catch (const PgError& e) {
    return Result<PgRows>::error(e.what());
  }
}

bool PgSession::in_transaction() const {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return false;
  const auto state = PQtransactionStatus(conn_);
  return state == PQTRANS_INTRANS || state == PQTRANS_INERROR || state == PQTRANS_ACTIVE;
}

}  // namespace cronhost::store
