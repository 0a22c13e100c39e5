#include "api/db_mysql.hpp"

#include <mysql.h>
#include <poll.h>
#include <sys/socket.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "api/mysql_rules.hpp"
#include "api/mysql_url.hpp"

namespace cronhost::api {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A waiting call looks at the run's stop this often.
constexpr milliseconds kSlice{50};
// After KILL QUERY the server answers within milliseconds; one that does not (stopped, cut
// off) has its connection cut after this long, so the run never waits on it.
constexpr milliseconds kKillGrace{500};
// The second connection that sends KILL QUERY: connect, read and write timeouts (seconds, the
// client's unit).
constexpr unsigned kKillTimeoutSeconds = 1;
// Closing (with a dry run's ROLLBACK) may run past the deadline, for at most this long.
constexpr milliseconds kCloseWait{2000};
// The server's own time limit backs the watchdog up when the host is gone; it is re-sent
// only when the one set would let a statement run this far past the deadline, so a run
// of many short queries pays the extra round trip at most once a second.
constexpr milliseconds kLimitSlack{1000};
// The charset number of binary strings: BLOB, BINARY, VARBINARY arrive as bytes.
constexpr unsigned kBinaryCharset = 63;
// A result column's first buffer; longer values are fetched again in full.
constexpr size_t kFirstBuffer = 256;


unsigned whole_seconds(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  return static_cast<unsigned>(std::clamp<int64_t>((ms + 999) / 1000, 1, 86400));
}

// Connector/C's own waits: connect timeout, TLS, and the session's charset. `io_timeout`:
// the read and write timeouts, a backstop for the run's own watch.
void apply_options(MYSQL* db, const config::DatabaseSettings& settings, unsigned connect_seconds,
                   unsigned io_seconds) {
  mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_seconds);
  if (io_seconds > 0) {
    mysql_optionsv(db, MYSQL_OPT_READ_TIMEOUT, &io_seconds);
    mysql_optionsv(db, MYSQL_OPT_WRITE_TIMEOUT, &io_seconds);
  }
  const unsigned no = 0;
  mysql_optionsv(db, MYSQL_OPT_LOCAL_INFILE, &no);  // LOAD DATA LOCAL could read this host's files
  mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const std::string& mode = settings.tls.mode;
  const my_bool yes = 1;
  if (!settings.tls.ca.empty() && mode != "disable") mysql_optionsv(db, MYSQL_OPT_SSL_CA, settings.tls.ca.c_str());
  if (mode == "prefer" && settings.tls.ca.empty()) mysql_ssl_set(db, nullptr, nullptr, nullptr, nullptr, nullptr);
  if (mode == "require" || mode == "verify-ca" || mode == "verify-full") mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &yes);
  // Connector/C checks the chain and the host name together: verify-ca is as strict as verify-full.
  if (mode == "verify-ca" || mode == "verify-full") mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
}

// --- values ---

// "1.50" and "1.5" are the same number: the decimal's digits without what does not count.
std::string normal_decimal(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  std::string digits(text);
  if (digits.find('.') != std::string::npos) {
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    if (!digits.empty() && digits.back() == '.') digits.pop_back();
  }
  size_t lead = 0;
  while (lead + 1 < digits.size() && digits[lead] == '0' && digits[lead + 1] != '.') ++lead;
  digits.erase(0, lead);
  if (digits.empty() || digits == "0") return "0";
  return (negative ? "-" : "") + digits;
}

// A DECIMAL is a number when a double holds it exactly as written, else its text.
DbValue decimal_value(const std::string& text) {
  double value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) return text;
  char shortest[400];
  const auto printed = std::to_chars(shortest, shortest + sizeof shortest, value, std::chars_format::fixed);
  if (printed.ec != std::errc()) return text;
  if (normal_decimal({shortest, static_cast<size_t>(printed.ptr - shortest)}) != normal_decimal(text)) return text;
  return value;
}

// RFC 3339 style: DATE 2024-05-01, DATETIME 2024-05-01T12:00:00(.fff), TIMESTAMP the same in
// UTC with Z (the session's time zone is +00:00), TIME [-]HH:MM:SS(.fff) (hours up to 838).
std::string time_text(const MYSQL_TIME& t, enum_field_types type, unsigned decimals) {
  char out[64];
  int n = 0;
  std::string fraction;
  if (decimals > 6) decimals = t.second_part ? 6 : 0;  // an expression's: show what is there
  if (decimals > 0) {
    char digits[8];
    std::snprintf(digits, sizeof digits, "%06lu", static_cast<unsigned long>(t.second_part % 1000000));
    fraction = "." + std::string(digits, decimals);
  }
  if (type == MYSQL_TYPE_DATE) {
    n = std::snprintf(out, sizeof out, "%04u-%02u-%02u", t.year, t.month, t.day);
    return std::string(out, static_cast<size_t>(n));
  }
  if (type == MYSQL_TYPE_TIME) {
    n = std::snprintf(out, sizeof out, "%s%02u:%02u:%02u", t.neg ? "-" : "", t.day * 24 + t.hour, t.minute, t.second);
    return std::string(out, static_cast<size_t>(n)) + fraction;
  }
  n = std::snprintf(out, sizeof out, "%04u-%02u-%02uT%02u:%02u:%02u", t.year, t.month, t.day, t.hour, t.minute,
                    t.second);
  return std::string(out, static_cast<size_t>(n)) + fraction + (type == MYSQL_TYPE_TIMESTAMP ? "Z" : "");
}

enum class ColumnKind { kSigned, kUnsigned, kDouble, kDecimal, kTime, kText, kBytes, kBit, kNull };

ColumnKind column_kind(const MYSQL_FIELD& field) {
  switch (field.type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR: return (field.flags & UNSIGNED_FLAG) ? ColumnKind::kUnsigned : ColumnKind::kSigned;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE: return ColumnKind::kDouble;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: return ColumnKind::kDecimal;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP: return ColumnKind::kTime;
    case MYSQL_TYPE_BIT: return ColumnKind::kBit;
    case MYSQL_TYPE_NULL: return ColumnKind::kNull;
    case MYSQL_TYPE_JSON: return ColumnKind::kText;
    default: return field.charsetnr == kBinaryCharset ? ColumnKind::kBytes : ColumnKind::kText;
  }
}

// One result column's buffers, bound with mysql_stmt_bind_result.
struct Cell {
  ColumnKind kind = ColumnKind::kText;
  enum_field_types type = MYSQL_TYPE_NULL;
  unsigned decimals = 0;
  int64_t integer = 0;
  double number = 0;
  MYSQL_TIME time{};
  std::string buffer;
  unsigned long length = 0;
  my_bool is_null = 0;
  my_bool error = 0;
};

void bind_cell(Cell& cell, MYSQL_BIND& bind) {
  std::memset(&bind, 0, sizeof bind);
  bind.is_null = &cell.is_null;
  bind.error = &cell.error;
  bind.length = &cell.length;
  switch (cell.kind) {
    case ColumnKind::kSigned:
    case ColumnKind::kUnsigned:
      bind.buffer_type = MYSQL_TYPE_LONGLONG;
      bind.buffer = &cell.integer;
      bind.is_unsigned = cell.kind == ColumnKind::kUnsigned;
      break;
    case ColumnKind::kDouble:
      bind.buffer_type = MYSQL_TYPE_DOUBLE;
      bind.buffer = &cell.number;
      break;
    case ColumnKind::kTime:
      bind.buffer_type = cell.type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : cell.type;
      bind.buffer = &cell.time;
      bind.buffer_length = sizeof cell.time;
      break;
    default:
      if (cell.buffer.size() < kFirstBuffer) cell.buffer.resize(kFirstBuffer);
      bind.buffer_type = cell.kind == ColumnKind::kText || cell.kind == ColumnKind::kDecimal ? MYSQL_TYPE_STRING
                                                                                              : MYSQL_TYPE_BLOB;
      bind.buffer = cell.buffer.data();
      bind.buffer_length = cell.buffer.size();
  }
}

DbValue cell_value(const Cell& cell) {
  if (cell.is_null || cell.kind == ColumnKind::kNull) return nullptr;
  const std::string bytes(cell.buffer.data(), std::min<size_t>(cell.length, cell.buffer.size()));
  switch (cell.kind) {
    case ColumnKind::kSigned: return cell.integer;
    case ColumnKind::kUnsigned: {
      const auto value = static_cast<uint64_t>(cell.integer);
      if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::to_string(value);
      return static_cast<int64_t>(value);
    }
    case ColumnKind::kDouble: return cell.number;
    case ColumnKind::kDecimal: return decimal_value(bytes);
    case ColumnKind::kTime: return time_text(cell.time, cell.type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : cell.type,
                                             cell.decimals);
    case ColumnKind::kBytes: return DbBytes{bytes};
    case ColumnKind::kBit: {  // BIT(n): big-endian bytes, an integer as BOOLEAN/TINYINT(1) is
      uint64_t value = 0;
      for (const char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
      if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::to_string(value);
      return static_cast<int64_t>(value);
    }
    default: return bytes;
  }
}

struct ResultFree {
  void operator()(MYSQL_RES* result) const { mysql_free_result(result); }
};
using Metadata = std::unique_ptr<MYSQL_RES, ResultFree>;

// How long a non-blocking call may wait, and what a stop does to it.
struct Watch {
  bool obey_stop = true;       // the run's stop ends the wait (KILL QUERY when killable)
  bool killable = false;       // a statement runs on the server: KILL QUERY stops it
  Clock::time_point give_up_at = Clock::time_point::max();  // then the connection is cut
};

class MysqlConnection final : public DbConnection {
 public:
  MysqlConnection(const std::string& name, const config::DatabaseSettings& settings, const DbRunScope& scope,
                  MysqlUrl url)
      : DbConnection(name, settings, scope), url_(std::move(url)) {}
  ~MysqlConnection() override { close(); }

  DbResult<DbDone> connect() {
    const auto open_error = [&](std::string_view text) {
      lost_ = true;  // nothing to roll back at close
      return DbResult<DbDone>::fail(DbFault::kServer, scope_.redact("db.open: database '" + name_ + "': " + std::string(text)));
    };
    db_ = mysql_init(nullptr);
    if (!db_) return open_error("out of memory");
    const auto wait = std::min<Clock::duration>(settings_.connect_timeout, scope_.time_left());
    const bool bounded = scope_.deadline != Clock::time_point::max();
    apply_options(db_, settings_, whole_seconds(wait), bounded ? whole_seconds(scope_.time_left()) + 5 : 0);
    mysql_optionsv(db_, MYSQL_OPT_NONBLOCK, 0);
    MYSQL* connected = nullptr;
    int status = mysql_real_connect_start(&connected, db_, url_.host.c_str(), url_.user.c_str(),
                                          settings_.password.c_str(), url_.database.c_str(), url_.port,
                                          url_.socket.empty() ? nullptr : url_.socket.c_str(), 0);
    // No CLIENT_MULTI_STATEMENTS: the server itself takes one statement per call.
    drive(status, [&](int ready) { return mysql_real_connect_cont(&connected, db_, ready); },
          {true, false, Clock::now() + wait});
    if (!connected) return open_error(cut_ ? "no answer within the connect timeout" : mysql_error(db_));
    thread_id_ = mysql_thread_id(db_);
    mariadb_ = std::strstr(mysql_get_server_info(db_), "MariaDB") != nullptr;
    // Strict: a value that does not fit is an error, not a silent truncation; UTC for TIMESTAMP.
    if (auto set = send("SET SESSION sql_mode = 'TRADITIONAL', time_zone = '+00:00'"); !set) return open_error(set.message());
    if (settings_.readonly)
      if (auto set = send("SET SESSION TRANSACTION READ ONLY"); !set) return open_error(set.message());
    if (scope_.dry_run())
      if (auto begun = send("START TRANSACTION"); !begun) return open_error(begun.message());
    return DbDone{};
  }

 protected:
  DbResult<DbDone> run(std::string_view caller, std::string_view sql, const std::vector<DbValue>& params, DbRows* rows,
                       std::vector<Outcome>& done) override {
    const MysqlReading reading = read_mysql_statement(sql);
    if (reading.refusal) return DbResult<DbDone>::fail(DbFault::kRefused, error_text(*reading.refusal));
    if (reading.statement.empty)
      return DbResult<DbDone>::fail(DbFault::kMisuse, std::string(caller) + ": no SQL statement given");
    if (auto usable = ready(); !usable) return usable;
    const MysqlStatement& statement = reading.statement;
    if (scope_.dry_run() && statement.commits) {  // it would commit the dry run's transaction
      done.push_back({statement.sql, 0, true, true});
      return DbDone{};
    }
    if (auto limited = limit_statement_time(); !limited) return limited;
    // In a dry run a failed write leaves the others intact, as on SQLite.
    const bool guarded = scope_.dry_run() && statement.writes;
    if (guarded)
      if (auto saved = send("SAVEPOINT cronhost_statement"); !saved) return saved;
    int64_t changes = 0;
    stopped_ = false;
    auto ran = execute(caller, statement.sql, params, rows, changes);
    // Stopped midway, a statement may still answer (MariaDB's SLEEP returns 1): never as if it ran.
    if (stopped_) ran = server_error("stopped: the run's deadline passed or it was cancelled");
    if (guarded && !lost_ && !scope_.stop_now()) {
      if (!ran) (void)send("ROLLBACK TO SAVEPOINT cronhost_statement");
      (void)send("RELEASE SAVEPOINT cronhost_statement");
    }
    if (!ran) return ran;
    done.push_back({statement.sql, changes, statement.writes, false});
    return DbDone{};
  }

  DbResult<DbDone> control(const std::string& sql) override {
    if (auto usable = ready(); !usable) return usable;
    // MySQL wants RELEASE SAVEPOINT name where PostgreSQL and SQLite take RELEASE name.
    if (sql.rfind("RELEASE ", 0) == 0) return send("RELEASE SAVEPOINT " + sql.substr(8));
    return send(sql);
  }

  std::string begin_sql() const override { return "START TRANSACTION"; }

  void disconnect() override {
    if (!db_) return;
    // A live transaction left open rolls back when the connection ends; a dry run's too, but
    // say so first, within a short wait even past the deadline.
    if (scope_.dry_run() && !lost_) (void)send("ROLLBACK", {false, false, Clock::now() + kCloseWait});
    mysql_close(db_);
    db_ = nullptr;
  }

 private:
  DbResult<DbDone> ready() {
    if (lost_) return server_error("the connection to the server was lost; open it again with db.open");
    if (scope_.stop_now()) return server_error("stopped: the run's deadline passed or it was cancelled");
    return DbDone{};
  }

  // A statement's error, which Connector/C keeps on the statement or on the connection.
  DbResult<DbDone> statement_error(MYSQL_STMT* s) {
    if (mysql_stmt_errno(s) == 0) return lost_error(mysql_error(db_));
    return lost_error(mysql_stmt_error(s), mysql_stmt_errno(s));
  }

  DbResult<DbDone> lost_error(std::string_view text, unsigned code = 0) {
    if (code == 0) code = mysql_errno(db_);
    if (text.empty()) text = "the server ended the statement without a message";
    // 2006 server gone away, 2013 lost connection: nothing more can run on this one.
    if (code == 2006 || code == 2013 || cut_) lost_ = true;
    if (cut_) return server_error("the server did not answer; the connection was cut");
    return server_error(text);
  }

  // Runs the non-blocking call whose _start returned `status` to its end, polling the socket
  // in slices that see the run's stop. On a stop, a statement gets KILL QUERY; when the server
  // still does not answer (or the wait ends), the socket is shut down so the call ends with
  // an error at once: a hung server never holds the run.
  template <typename Continue>
  int drive(int status, Continue&& resume, Watch watch) {
    bool kill_sent = false;
    bool shut = false;
    while (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT | MYSQL_WAIT_TIMEOUT)) {
      const auto lib_timeout = (status & MYSQL_WAIT_TIMEOUT)
                                   ? Clock::now() + milliseconds(mysql_get_timeout_value_ms(db_))
                                   : Clock::time_point::max();
      pollfd pfd{mysql_get_socket(db_), 0, 0};
      if (status & MYSQL_WAIT_READ) pfd.events |= POLLIN;
      if (status & MYSQL_WAIT_WRITE) pfd.events |= POLLOUT;
      if (status & MYSQL_WAIT_EXCEPT) pfd.events |= POLLPRI;
      int ready = 0;
      for (;;) {
        auto now = Clock::now();
        const auto slice = std::min<Clock::duration>({kSlice, lib_timeout - std::min(now, lib_timeout),
                                                      watch.give_up_at - std::min(now, watch.give_up_at)});
        const int polled = ::poll(&pfd, 1, static_cast<int>(std::chrono::ceil<milliseconds>(slice).count()));
        if (polled > 0) {
          if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) ready |= MYSQL_WAIT_READ;
          if (pfd.revents & (POLLOUT | POLLHUP | POLLERR)) ready |= MYSQL_WAIT_WRITE;
          if (pfd.revents & POLLPRI) ready |= MYSQL_WAIT_EXCEPT;
          ready &= status;
          if (ready) break;
        }
        now = Clock::now();
        if (now >= lib_timeout) {
          ready = MYSQL_WAIT_TIMEOUT;
          break;
        }
        if (watch.obey_stop && scope_.stop_now() && !kill_sent) {
          kill_sent = true;
          stopped_ = true;
          if (watch.killable) {
            send_kill();
            watch.give_up_at = std::min(watch.give_up_at, Clock::now() + kKillGrace);
          } else {
            watch.give_up_at = now;
          }
        }
        if (now >= watch.give_up_at && !shut) {
          shut = true;
          cut_ = true;
          ::shutdown(pfd.fd, SHUT_RDWR);  // the call now reads the end of the stream and fails
        }
      }
      status = resume(ready);
    }
    return status;
  }

  // KILL QUERY over a second, short-lived connection: the server stops the statement and
  // answers this one with an error, which ends the wait.
  void send_kill() {
    MYSQL* killer = mysql_init(nullptr);
    if (!killer) return;
    apply_options(killer, settings_, kKillTimeoutSeconds, kKillTimeoutSeconds);
    if (mysql_real_connect(killer, url_.host.c_str(), url_.user.c_str(), settings_.password.c_str(), nullptr,
                           url_.port, url_.socket.empty() ? nullptr : url_.socket.c_str(), 0))
      (void)mysql_query(killer, ("KILL QUERY " + std::to_string(thread_id_)).c_str());
    mysql_close(killer);
  }

  // The host's own statements (session setup, transaction control): text protocol, no rows.
  DbResult<DbDone> send(const std::string& sql, Watch watch = {true, true, Clock::time_point::max()}) {
    int rc = 0;
    const int status = mysql_real_query_start(&rc, db_, sql.data(), sql.size());
    drive(status, [&](int ready) { return mysql_real_query_cont(&rc, db_, ready); }, watch);
    if (rc != 0) return lost_error(mysql_error(db_));
    if (MYSQL_RES* result = mysql_store_result(db_)) mysql_free_result(result);  // none expected
    return DbDone{};
  }

  // The server's own limit: MariaDB's max_statement_time (seconds, every statement), MySQL's
  // max_execution_time (milliseconds, SELECT only); KILL QUERY covers the rest.
  DbResult<DbDone> limit_statement_time() {
    if (scope_.deadline == Clock::time_point::max()) return DbDone{};
    const auto left = std::max<Clock::duration>(scope_.time_left(), milliseconds(1));
    if (limit_set_ && *limit_set_ <= left + kLimitSlack) return DbDone{};
    const auto ms = std::chrono::ceil<milliseconds>(left);
    char sql[96];
    if (mariadb_)
      std::snprintf(sql, sizeof sql, "SET SESSION max_statement_time = %.3f", static_cast<double>(ms.count()) / 1000.0);
    else
      std::snprintf(sql, sizeof sql, "SET SESSION max_execution_time = %lld", static_cast<long long>(ms.count()));
    if (auto set = send(sql); !set) return set;
    limit_set_ = ms;
    return DbDone{};
  }

  DbResult<DbDone> execute(std::string_view caller, const std::string& sql, const std::vector<DbValue>& params,
                           DbRows* rows, int64_t& changes) {
    struct StatementClose {
      void operator()(MYSQL_STMT* stmt) const { mysql_stmt_close(stmt); }
    };
    std::unique_ptr<MYSQL_STMT, StatementClose> stmt(mysql_stmt_init(db_));
    if (!stmt) return server_error("out of memory");
    MYSQL_STMT* s = stmt.get();
    const Watch watch{true, true, Clock::time_point::max()};
    int rc = 0;
    drive(mysql_stmt_prepare_start(&rc, s, sql.data(), sql.size()),
          [&](int ready) { return mysql_stmt_prepare_cont(&rc, s, ready); }, watch);
    if (rc != 0) return statement_error(s);

    const auto wanted = static_cast<size_t>(mysql_stmt_param_count(s));
    if (wanted != params.size())
      return DbResult<DbDone>::fail(DbFault::kMisuse,
                                    std::string(caller) + ": the SQL has " + std::to_string(wanted) + " placeholder" +
                                        (wanted == 1 ? "" : "s") + " but " + std::to_string(params.size()) +
                                        (params.size() == 1 ? " value was" : " values were") + " given");
    std::vector<MYSQL_BIND> binds(params.size());
    std::vector<int64_t> integers(params.size());
    std::vector<double> numbers(params.size());
    std::vector<signed char> tinies(params.size());
    for (size_t i = 0; i < params.size(); ++i) bind_param(params[i], binds[i], integers[i], numbers[i], tinies[i]);
    if (!binds.empty() && mysql_stmt_bind_param(s, binds.data())) return statement_error(s);

    drive(mysql_stmt_execute_start(&rc, s), [&](int ready) { return mysql_stmt_execute_cont(&rc, s, ready); }, watch);
    if (rc != 0) return statement_error(s);
    const unsigned columns = mysql_stmt_field_count(s);
    if (columns == 0) {
      changes = static_cast<int64_t>(mysql_stmt_affected_rows(s));
      return DbDone{};
    }
    return fetch(s, columns, rows);
  }

  static void bind_param(const DbValue& value, MYSQL_BIND& bind, int64_t& integer, double& number,
                         signed char& tiny) {
    std::memset(&bind, 0, sizeof bind);
    if (std::holds_alternative<std::nullptr_t>(value)) {
      bind.buffer_type = MYSQL_TYPE_NULL;
    } else if (const auto* b = std::get_if<bool>(&value)) {
      tiny = *b ? 1 : 0;  // TINYINT: MySQL's BOOLEAN
      bind.buffer_type = MYSQL_TYPE_TINY;
      bind.buffer = &tiny;
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      integer = *i;
      bind.buffer_type = MYSQL_TYPE_LONGLONG;
      bind.buffer = &integer;
    } else if (const auto* d = std::get_if<double>(&value)) {
      number = *d;
      bind.buffer_type = MYSQL_TYPE_DOUBLE;
      bind.buffer = &number;
    } else if (const auto* text = std::get_if<std::string>(&value)) {
      bind.buffer_type = MYSQL_TYPE_STRING;
      bind.buffer = const_cast<char*>(text->data());
      bind.buffer_length = text->size();
    } else if (const auto* bytes = std::get_if<DbBytes>(&value)) {
      bind.buffer_type = MYSQL_TYPE_BLOB;
      bind.buffer = const_cast<char*>(bytes->data.data());
      bind.buffer_length = bytes->data.size();
    }
  }

  // Reads the rows as they arrive (unbuffered), within the caps; `rows` null: read and dropped.
  DbResult<DbDone> fetch(MYSQL_STMT* s, unsigned columns, DbRows* rows) {
    Metadata meta(mysql_stmt_result_metadata(s));
    if (!meta) return statement_error(s);
    const MYSQL_FIELD* fields = mysql_fetch_fields(meta.get());
    std::vector<Cell> cells(columns);
    std::vector<MYSQL_BIND> binds(columns);
    for (unsigned i = 0; i < columns; ++i) {
      cells[i].kind = column_kind(fields[i]);
      cells[i].type = fields[i].type;
      cells[i].decimals = fields[i].decimals;
      bind_cell(cells[i], binds[i]);
      if (rows && rows->columns.size() < columns) rows->columns.emplace_back(fields[i].name);
    }
    if (mysql_stmt_bind_result(s, binds.data())) return statement_error(s);
    const Watch watch{true, true, Clock::time_point::max()};
    for (;;) {
      int rc = 0;
      drive(mysql_stmt_fetch_start(&rc, s), [&](int ready) { return mysql_stmt_fetch_cont(&rc, s, ready); }, watch);
      if (rc == MYSQL_NO_DATA) return DbDone{};
      if (rc == 1) return statement_error(s);
      if (!rows) continue;
      bool rebind = false;
      for (unsigned i = 0; i < columns; ++i) {  // a value longer than its buffer: fetch it whole
        Cell& cell = cells[i];
        const bool variable = binds[i].buffer_type == MYSQL_TYPE_STRING || binds[i].buffer_type == MYSQL_TYPE_BLOB;
        if (cell.is_null || !variable || cell.length <= cell.buffer.size())
          continue;
        cell.buffer.resize(cell.length);
        binds[i].buffer = cell.buffer.data();
        binds[i].buffer_length = cell.buffer.size();
        if (mysql_stmt_fetch_column(s, &binds[i], i, 0)) return statement_error(s);
        rebind = true;
      }
      if (rebind && mysql_stmt_bind_result(s, binds.data())) return statement_error(s);
      std::vector<DbValue> row;
      row.reserve(columns);
      for (const Cell& cell : cells) row.push_back(cell_value(cell));
      if (auto added = add_row(*rows, std::move(row)); !added) {
        abandon_rows(s);
        return added;
      }
    }
  }

  // Past a cap: the server stops sending (KILL QUERY) and the rest is read off the wire, so
  // the connection stays usable.
  void abandon_rows(MYSQL_STMT* s) {
    send_kill();
    const Watch watch{true, false, Clock::now() + kKillGrace * 4};
    for (;;) {
      int rc = 0;
      drive(mysql_stmt_fetch_start(&rc, s), [&](int ready) { return mysql_stmt_fetch_cont(&rc, s, ready); }, watch);
      if (rc == MYSQL_NO_DATA || rc == 1) break;
    }
    if (cut_) lost_ = true;
  }

  MysqlUrl url_;
  MYSQL* db_ = nullptr;
  unsigned long thread_id_ = 0;
  bool mariadb_ = true;
  bool lost_ = false;  // the server is gone or the connection was cut: every call fails
  bool cut_ = false;   // the host shut the socket down (the server did not answer)
  bool stopped_ = false;  // the run's stop came while the statement ran
  std::optional<milliseconds> limit_set_;  // the server-side statement limit last sent
};

}  // namespace

DbResult<std::unique_ptr<DbConnection>> open_mysql(const std::string& name, const config::DatabaseSettings& settings,
                                                   const DbRunScope& scope) {
  using R = DbResult<std::unique_ptr<DbConnection>>;
  auto url = parse_mysql_url(settings.url);
  if (!url) return R::fail(DbFault::kMisuse, "db.open: database '" + name + "': " + scope.redact(url.message()));
  auto conn = std::make_unique<MysqlConnection>(name, settings, scope, std::move(url).value());
  if (auto connected = conn->connect(); !connected) return R::from(connected);
  return R(std::move(conn));
}

}  // namespace cronhost::api
