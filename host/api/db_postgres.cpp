#include "api/db_postgres.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <optional>

#include "api/pg_values.hpp"
#include "api/sql_text.hpp"
#include "util/printable.hpp"

namespace cronhost::api {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Each wait on the socket lasts at most this long before it looks at the run's stop again:
// a cancel is seen within 50 ms, and a poll() that returns at once costs nothing.
constexpr milliseconds kWaitSlice{50};
// After a cancel request, how long the server gets to answer before the connection is given
// up (a server that does not answer a cancel is as good as dead).
constexpr milliseconds kCancelGrace{2000};
// How far past the run's deadline the server's own statement_timeout may let a statement
// run before the host sets it again; the host's wait on the socket stops it at the deadline.
constexpr milliseconds kTimeoutSlack{1000};
// What closing may spend rolling back, even past the run's deadline.
constexpr milliseconds kCloseGrace{2000};

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

// libpq's messages end with a newline and may hold several lines ("ERROR: ...\nDETAIL: ...").
std::string trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The server's own words ('relation "t" does not exist'), without ERROR: and the LINE/caret lines.
std::string server_message(const PGresult* result) {
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  return primary ? std::string(primary) : trimmed(PQresultErrorMessage(result));
}

// What a statement's command tag says: whether it may have written, and the rows it touched.
bool tag_reads_only(std::string_view tag) {
  for (std::string_view reader : {"SELECT", "SHOW", "FETCH", "EXPLAIN", "MOVE", "DECLARE", "CLOSE", "LISTEN", "UNLISTEN"})
    if (tag.substr(0, reader.size()) == reader && (tag.size() == reader.size() || tag[reader.size()] == ' ')) return true;
  return false;
}

// SELECT ... INTO new_table creates a table though its tag says SELECT.
bool selects_into(const SqlText& text) {
  if (text.tokens.empty() || text.tokens[0].text != "SELECT") return false;
  return std::any_of(text.tokens.begin(), text.tokens.end(),
                     [](const SqlToken& t) { return t.kind == SqlToken::Kind::kWord && t.text == "INTO"; });
}

class PostgresConnection final : public DbConnection {
 public:
  PostgresConnection(const std::string& name, const config::DatabaseSettings& settings, const DbRunScope& scope)
      : DbConnection(name, settings, scope) {}
  ~PostgresConnection() override { close(); }

  DbResult<DbDone> connect(const std::string& application) {
    std::vector<const char*> keys{"dbname", "application_name", "client_encoding", "fallback_application_name"};
    std::vector<const char*> values{settings_.url.c_str(), application.c_str(), "UTF8", "cronhost"};
    if (!settings_.password.empty()) keys.push_back("password"), values.push_back(settings_.password.c_str());
    if (!settings_.tls.mode.empty()) keys.push_back("sslmode"), values.push_back(settings_.tls.mode.c_str());
    const std::string ca = settings_.tls.ca.string();
    if (!ca.empty()) keys.push_back("sslrootcert"), values.push_back(ca.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectStartParams(keys.data(), values.data(), 1);  // 1: dbname may be a URL
    if (!conn_) return open_error("out of memory");
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // not on the host's stderr
    const auto until = Clock::now() + std::min<Clock::duration>(settings_.connect_timeout, scope_.time_left());
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus(conn_) != CONNECTION_BAD && state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED) {
      const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      if (!wait_until_ready(events, until, true))
        return open_error(scope_.stop_now() ? "the run stopped while connecting"
                                            : "no connection within the connect timeout of " +
                                                  std::to_string(settings_.connect_timeout.count()) + " ms");
      state = PQconnectPoll(conn_);
    }
    if (PQstatus(conn_) != CONNECTION_OK) return open_error(trimmed(PQerrorMessage(conn_)));
    if (PQsetnonblocking(conn_, 1) != 0) return open_error(trimmed(PQerrorMessage(conn_)));
    cancel_ = PQgetCancel(conn_);
    // Rows come back in the forms pg_values expects; a read-only database stays so.
    std::string session = "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = iso_8601; "
                          "SET extra_float_digits = 3";
    if (settings_.readonly) session += "; SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY";
    if (scope_.dry_run()) session += "; BEGIN";  // one transaction from open to close, rolled back
    if (auto set = simple(session, scope_.deadline); !set) return set;
    return DbDone{};
  }

 protected:
  DbResult<DbDone> run(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params, DbRows* rows,
                       std::vector<Outcome>& done) override {
    const SqlText text = scan_sql(sql, SqlDialect::kPostgres);
    if (!text.problem.empty()) return server_error(text.problem);
    if (text.statements == 0) return DbResult<DbDone>::fail(DbFault::kMisuse, std::string(caller) + ": no SQL statement given");
    if (auto why = sql_refusal(text, SqlDialect::kPostgres)) return DbResult<DbDone>::fail(DbFault::kRefused, error_text(*why));
    if (std::any_of(text.tokens.begin(), text.tokens.end(), [](const SqlToken& t) { return t.kind == SqlToken::Kind::kNumbered; }))
      return DbResult<DbDone>::fail(DbFault::kMisuse, std::string(caller) + ": write ? placeholders, not $1, $2 (the same "
                                                                            "SQL then runs on every engine)");
    const int given = static_cast<int>(params.size());
    if (given != text.placeholders)
      return DbResult<DbDone>::fail(DbFault::kMisuse,
                                    std::string(caller) + ": the SQL has " + std::to_string(text.placeholders) +
                                        " placeholder" + (text.placeholders == 1 ? "" : "s") + " but " +
                                        std::to_string(given) + (given == 1 ? " value was" : " values were") + " given");
    if (broken_) return server_error("the connection to the server was lost; open it again");

    // Inside a transaction a failed statement would poison the rest of it (PostgreSQL's
    // "current transaction is aborted"); a savepoint of its own keeps the rule of SQLite,
    // where a failed statement undoes only itself.
    const bool in_transaction = PQtransactionStatus(conn_) == PQTRANS_INTRANS;
    if (const std::string first = prelude(in_transaction); !first.empty())
      if (auto set = simple(first, scope_.deadline); !set) {
        timeout_set_at_ = {};
        return set;
      }
    auto ran = statement(text, params, rows);
    // A rollback undoes our SET too, and the script may have set its own: set it again.
    const std::string first_word = text.tokens.empty() ? "" : text.tokens[0].text;
    if (!ran || first_word == "SET" || first_word == "RESET" || first_word == "DISCARD") timeout_set_at_ = {};
    if (in_transaction && !broken_) {
      auto after = simple(ran ? "RELEASE cronhost_statement" : "ROLLBACK TO cronhost_statement; RELEASE cronhost_statement",
                          Clock::now() + kCloseGrace, false);
      if (ran && !after) return after;
    }
    if (!ran) return DbResult<DbDone>::from(ran);
    const bool wrote = !tag_reads_only(ran.value()) || selects_into(text);
    const char* tuples = PQcmdTuples(last_.get());
    done.push_back({std::string(sql), wrote && tuples && *tuples ? std::atoll(tuples) : 0, wrote, false});
    return DbDone{};
  }

  DbResult<DbDone> control(const std::string& sql) override {
    timeout_set_at_ = {};  // a ROLLBACK (TO) undoes a SET made since
    if (broken_) return server_error("the connection to the server was lost; open it again");
    return simple(sql, std::max(scope_.deadline, Clock::now() + kCloseGrace), false);  // a rollback must get through
  }

  void disconnect() override {
    if (!conn_) return;
    if (!broken_ && PQtransactionStatus(conn_) != PQTRANS_IDLE) (void)simple("ROLLBACK", Clock::now() + kCloseGrace, false);
    if (cancel_) PQfreeCancel(cancel_);
    cancel_ = nullptr;
    PQfinish(conn_);
    conn_ = nullptr;
  }

 private:
  DbResult<DbDone> open_error(const std::string& text) {
    return DbResult<DbDone>::fail(DbFault::kServer, scope_.redact("db.open: database '" + name_ + "': " + printable(text, 4096)));
  }

  // What a statement runs with, as SQL to send first (empty: nothing to send): at most the
  // run's time left (the server stops it there itself, while the host's own wait cancels it
  // at the deadline to the slice), the string syntax the tokenizer assumed, a read-only
  // database's transaction read-only again (a script's own SET cannot lift it for the next
  // statement), and inside a transaction the statement's savepoint.
  std::string prelude(bool in_transaction) {
    std::string sql;
    const auto now = Clock::now();
    // statement_timeout counts from each statement's start, so one set at `timeout_set_at_`
    // lets a later statement run past the deadline by the time since: set it again after
    // kTimeoutSlack. A round trip per statement would double the cost of a short query.
    if (timeout_set_at_ == Clock::time_point{} || (scope_.deadline != Clock::time_point::max() &&
                                                   now - timeout_set_at_ > kTimeoutSlack)) {
      const auto left = std::chrono::duration_cast<milliseconds>(scope_.time_left()).count();
      sql = "SET statement_timeout = " +
            std::to_string(scope_.deadline == Clock::time_point::max() ? 0 : std::max<int64_t>(1, left));
      timeout_set_at_ = now;
    }
    const auto add = [&sql](std::string_view more) { sql += (sql.empty() ? "" : "; ") + std::string(more); };
    const char* conforming = PQparameterStatus(conn_, "standard_conforming_strings");
    if (!conforming || std::string_view(conforming) != "on") add("SET standard_conforming_strings = on");
    if (settings_.readonly) {
      const char* readonly = PQparameterStatus(conn_, "default_transaction_read_only");
      if (!readonly || std::string_view(readonly) != "on") add("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
      if (in_transaction) add("SET TRANSACTION READ ONLY");
    }
    if (in_transaction) add("SAVEPOINT cronhost_statement");
    return sql;
  }

  // The script's statement through the extended protocol (one statement only), its rows one
  // by one within the caps. Returns the command tag.
  DbResult<std::string> statement(const SqlText& text, const std::vector<DbValue>& params, DbRows* rows) {
    using R = DbResult<std::string>;
    stopped_ = false;
    watch_stop_ = true;
    std::vector<PgParam> bound;
    bound.reserve(params.size());
    for (const auto& value : params) bound.push_back(pg_param(value));
    std::vector<PgOid> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : bound) {
      types.push_back(p.type);
      values.push_back(p.null ? nullptr : p.text.c_str());
      lengths.push_back(static_cast<int>(p.text.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    if (!PQsendQueryParams(conn_, text.translated.c_str(), static_cast<int>(bound.size()), types.data(), values.data(),
                           lengths.data(), formats.data(), 0))
      return R::from(lost());
    PQsetSingleRowMode(conn_);  // the caps apply before libpq holds a whole big result
    if (auto sent = flush(scope_.deadline); !sent) return R::from(sent);
    std::optional<std::string> failure;
    std::string tag;
    bool columns_named = rows && !rows->columns.empty();
    for (;;) {
      auto next = next_result(scope_.deadline);
      if (!next) return R::from(next);
      Result result(next.value());
      if (!result) break;
      const auto status = PQresultStatus(result.get());
      if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK) {
        if (rows && !columns_named) {
          for (int i = 0; i < PQnfields(result.get()); ++i) rows->columns.emplace_back(PQfname(result.get(), i));
          columns_named = true;
        }
        if (rows && !failure && status == PGRES_SINGLE_TUPLE) {
          std::vector<DbValue> row;
          row.reserve(static_cast<size_t>(PQnfields(result.get())));
          for (int i = 0; i < PQnfields(result.get()); ++i) {
            if (PQgetisnull(result.get(), 0, i)) row.emplace_back(nullptr);
            else row.push_back(pg_value(PQftype(result.get(), i),
                                        {PQgetvalue(result.get(), 0, i), static_cast<size_t>(PQgetlength(result.get(), 0, i))}));
          }
          if (auto added = add_row(*rows, std::move(row)); !added) {
            failure = added.message();
            cancel();  // the rest of the rows are not wanted
          }
        }
        if (status == PGRES_TUPLES_OK) tag = PQcmdStatus(result.get());
        last_ = std::move(result);
      } else if (status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY) {
        tag = PQcmdStatus(result.get());
        last_ = std::move(result);
      } else if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
        // Refused before it is sent; should one get through (a rule, a function), end it.
        PQputCopyEnd(conn_, "COPY is refused");
        if (!failure) failure = error_text("COPY is refused: it reads or writes files or programs on the database server");
      } else if (!failure) {
        failure = error_text(stopped_by_the_run(result.get()) ? stop_reason() : server_message(result.get()));
      }
    }
    if (failure) return R::fail(DbFault::kServer, *failure);
    return tag;
  }

  // Runs the API's own SQL (session settings, savepoints, transaction control) through the
  // simple protocol, which takes several statements; waits until `until` at most.
  DbResult<DbDone> simple(const std::string& sql, Clock::time_point until, bool watch_stop = true) {
    stopped_ = false;
    watch_stop_ = watch_stop;
    if (!PQsendQuery(conn_, sql.c_str())) return lost();
    if (auto sent = flush(until); !sent) return sent;
    std::optional<std::string> failure;
    for (;;) {
      auto next = next_result(until);
      if (!next) return DbResult<DbDone>::from(next);
      Result result(next.value());
      if (!result) break;
      const auto status = PQresultStatus(result.get());
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !failure)
        failure = stopped_by_the_run(result.get()) ? stop_reason() : server_message(result.get());
    }
    if (failure) return server_error(*failure);
    return DbDone{};
  }

  // Sends what libpq has buffered, reading meanwhile so that the server never blocks on us.
  DbResult<DbDone> flush(Clock::time_point until) {
    for (;;) {
      const int left = PQflush(conn_);
      if (left == 0) return DbDone{};
      if (left < 0) return lost();
      if (!wait_or_cancel(POLLOUT | POLLIN, until)) return lost_or_stopped();
      if (!PQconsumeInput(conn_)) return lost();
    }
  }

  // The next result, or null after the last one of the command.
  DbResult<PGresult*> next_result(Clock::time_point until) {
    while (PQisBusy(conn_)) {
      if (!wait_or_cancel(POLLIN, until)) return DbResult<PGresult*>::from(lost_or_stopped());
      if (!PQconsumeInput(conn_)) return DbResult<PGresult*>::from(lost());
    }
    return PQgetResult(conn_);
  }

  // Waits for the socket. Watching the run's stop, a stop sends a cancel request and gives
  // the server kCancelGrace to answer it. False when the socket did not get ready in time.
  bool wait_or_cancel(short events, Clock::time_point until) {
    if (!stopped_ && watch_stop_) {
      if (wait_until_ready(events, until, true)) return true;
      if (!scope_.stop_now()) return false;
      cancel();
      stopped_ = true;
    }
    return wait_until_ready(events, stopped_ ? cancel_until_ : until, false);
  }

  // Polls the socket in slices until it is ready (true), or until `until` or, when
  // `watch_stop`, the run's stop (false).
  bool wait_until_ready(short events, Clock::time_point until, bool watch_stop) {
    const int fd = PQsocket(conn_);
    if (fd < 0) return false;
    for (;;) {
      const auto now = Clock::now();
      if (now >= until || (watch_stop && scope_.stop_now())) return false;
      const auto slice = std::min<Clock::duration>(kWaitSlice, until - now);
      pollfd p{fd, events, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::chrono::duration_cast<milliseconds>(slice).count()) + 1);
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return false;
    }
  }

  void cancel() {
    cancel_until_ = Clock::now() + kCancelGrace;
    char error[256];
    if (cancel_) PQcancel(cancel_, error, sizeof error);
  }

  // Whether a failed statement ended because the run stopped: the host's cancel request, or
  // the statement_timeout the prelude set to the run's deadline, which the server may fire a
  // moment before the host's own clock reaches it (its query_canceled, SQLSTATE 57014).
  bool stopped_by_the_run(const PGresult* result) const {
    if (stopped_ || scope_.stop_now()) return true;
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    return state && std::string_view(state) == "57014" && scope_.deadline != Clock::time_point::max() &&
           Clock::now() + kWaitSlice >= scope_.deadline;
  }

  std::string stop_reason() const {
    return scope_.cancelled() ? "the statement was stopped: the run was cancelled"
                              : "the statement was stopped at the run's deadline";
  }

  DbResult<DbDone> lost() {
    broken_ = true;
    std::string why = trimmed(PQerrorMessage(conn_));
    why = why.substr(0, why.find('\n'));  // libpq's next lines guess at causes, tab-indented
    return server_error(why.empty() ? "the connection to the server was lost" : why);
  }
  DbResult<DbDone> lost_or_stopped() {
    broken_ = true;
    return server_error(stopped_ ? stop_reason() + " (the server did not answer the cancel request)"
                                 : "the server did not answer in time");
  }

  PGconn* conn_ = nullptr;
  PGcancel* cancel_ = nullptr;
  Result last_;                       // the last statement's final result (its tag and counts)
  bool broken_ = false;               // the server is gone or did not answer: only closing is left
  bool watch_stop_ = true;            // the call under way ends at the run's stop
  bool stopped_ = false;              // a cancel request was sent for the statement under way
  Clock::time_point cancel_until_{};  // how long the server has to answer it
  Clock::time_point timeout_set_at_{};  // when statement_timeout was last set; {}: set it
};

}  // namespace

DbResult<std::unique_ptr<DbConnection>> open_postgres(const std::string& name, const config::DatabaseSettings& settings,
                                                      const DbRunScope& scope, const std::string& application) {
  using R = DbResult<std::unique_ptr<DbConnection>>;
  auto conn = std::make_unique<PostgresConnection>(name, settings, scope);
  if (auto connected = conn->connect(application); !connected) return R::from(connected);
  return R(std::move(conn));
}

}  // namespace cronhost::api
