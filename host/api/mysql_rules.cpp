#include "api/mysql_rules.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace cronhost::api {
namespace {

bool word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '$' || u >= 0x80;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The text as MySQL reads it: words (upper case, `quoted` names too) per statement, strings
// and comments skipped. MySQL runs the inside of /*! ... */ and /*M! ... */ comments, so those
// are noted rather than skipped.
struct Scan {
  std::vector<std::vector<std::string>> statements;  // the words of each non-empty statement
  size_t first_begin = 0, first_end = 0;              // the first statement's text, without ';'
  bool executable_comment = false;
};

Scan scan(std::string_view sql) {
  Scan out;
  std::vector<std::string> words;
  bool content = false;  // the statement under way has a token
  size_t begin = 0, end = 0;
  auto finish = [&] {
    if (!content) return;
    if (out.statements.empty()) out.first_begin = begin, out.first_end = end;
    out.statements.push_back(std::move(words));
    words.clear();
    content = false;
  };
  auto token = [&](size_t from, size_t to) {
    if (!content) begin = from;
    content = true;
    end = to;
  };
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#' || (c == '-' && i + 1 < n && sql[i + 1] == '-' &&
                            (i + 2 == n || std::isspace(static_cast<unsigned char>(sql[i + 2]))))) {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      if (i + 2 < n && (sql[i + 2] == '!' || (sql[i + 2] == 'M' && i + 3 < n && sql[i + 3] == '!')))
        out.executable_comment = true;
      const size_t close = sql.find("*/", i + 2);
      i = close == std::string_view::npos ? n : close + 2;
    } else if (c == '\'' || c == '"' || c == '`') {
      const size_t from = i++;
      while (i < n) {
        if (sql[i] == '\\' && c != '`') i += 2;
        else if (sql[i] == c && i + 1 < n && sql[i + 1] == c) i += 2;
        else if (sql[i] == c) break;
        else ++i;
      }
      i = std::min(i + 1, n);
      // MySQL calls a function by its quoted name too: `LOAD_FILE`('/etc/passwd') runs.
      if (c == '`' && i - from >= 2) words.push_back(upper(sql.substr(from + 1, i - from - 2)));
      token(from, i);
    } else if (word_char(c)) {
      const size_t from = i;
      while (i < n && word_char(sql[i])) ++i;
      words.push_back(upper(sql.substr(from, i - from)));
      token(from, i);
    } else if (c == ';') {
      finish();
      ++i;
    } else {
      token(i, i + 1);
      ++i;
    }
  }
  finish();
  return out;
}

bool has(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

bool any_of_words(const std::vector<std::string>& words, std::initializer_list<std::string_view> wanted) {
  return std::any_of(wanted.begin(), wanted.end(), [&](std::string_view w) { return has(words, w); });
}

// Statements after which MySQL and MariaDB commit on their own (the "Statements That Cause an
// Implicit Commit" of the manuals), so a dry run's transaction would end: they are captured only.
bool commits_implicitly(const std::vector<std::string>& w) {
  const std::string& first = w[0];
  const std::string second = w.size() > 1 ? w[1] : "";
  // Temporary tables live in the session and commit nothing.
  if ((first == "CREATE" || first == "DROP") && second == "TEMPORARY") return false;
  static const std::vector<std::string> kCommitting = {
      "CREATE", "ALTER", "DROP",  "RENAME",  "TRUNCATE", "GRANT", "REVOKE",  "LOCK",
      "UNLOCK", "ANALYZE", "OPTIMIZE", "REPAIR", "CHECK", "CACHE", "FLUSH", "RESET", "INSTALL", "UNINSTALL"};
  if (has(kCommitting, first)) return true;
  if (first == "LOAD" && second == "INDEX") return true;
  // SET PASSWORD commits; SET GLOBAL/PERSIST changes the server for everyone: not a dry run's.
  return first == "SET" && (second == "PASSWORD" || second == "GLOBAL" || second == "PERSIST" ||
                            second == "PERSIST_ONLY" || has(w, "GLOBAL"));
}

bool only_reads(const std::vector<std::string>& w) {
  static const std::vector<std::string> kReading = {"SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN",
                                                    "VALUES", "TABLE",  "DO",       "HELP", "SET"};
  if (w[0] == "WITH") return !any_of_words(w, {"INSERT", "UPDATE", "DELETE", "REPLACE"});
  return has(kReading, w[0]) && !commits_implicitly(w);
}

// Why a statement is refused, or nothing.
std::optional<std::string> refusal(const std::vector<std::string>& w) {
  const std::string& first = w[0];
  const std::string second = w.size() > 1 ? w[1] : "";
  if (first == "LOAD" && (second == "DATA" || second == "XML"))
    return "LOAD DATA and LOAD XML read files (the server's or this host's) and are refused from job code; "
           "insert the rows with conn:exec";
  for (size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] == "INTO" && (w[i + 1] == "OUTFILE" || w[i + 1] == "DUMPFILE"))
      return "SELECT ... INTO " + w[i + 1] + " writes a file on the database server and is refused from job code; "
             "select the rows and write them with files";
  if (has(w, "LOAD_FILE")) return "LOAD_FILE() reads a file on the database server and is refused from job code";
  if (first == "BEGIN" || first == "COMMIT" || first == "ROLLBACK" || first == "SAVEPOINT" || first == "RELEASE" ||
      first == "XA" || (first == "START" && second == "TRANSACTION"))
    return "use conn:transaction(fn) rather than BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE or XA";
  if (first == "SET" && (second == "TRANSACTION" || (w.size() > 2 && w[2] == "TRANSACTION") ||
                         any_of_words(w, {"AUTOCOMMIT", "COMPLETION_TYPE", "TX_READ_ONLY", "TRANSACTION_READ_ONLY",
                                          "MAX_STATEMENT_TIME", "MAX_EXECUTION_TIME", "SQL_LOG_BIN"})))
    return "SET of autocommit, the transaction's mode or the statement time limits belongs to the host "
           "(conn:transaction, readonly:, the run's deadline)";
  if (first == "PREPARE" || first == "EXECUTE" || first == "DEALLOCATE")
    return "PREPARE, EXECUTE and EXECUTE IMMEDIATE are refused: the db API prepares each statement itself "
           "(use ? placeholders)";
  return std::nullopt;
}

}  // namespace

MysqlReading read_mysql_statement(std::string_view sql) {
  MysqlReading out;
  const Scan scanned = scan(sql);
  if (scanned.executable_comment) {
    out.refusal = "executable comments (/*! ... */, /*M! ... */) are refused: MySQL would run their text; "
                  "write the statement plainly";
    return out;
  }
  if (scanned.statements.empty()) {
    out.statement.empty = true;
    return out;
  }
  if (scanned.statements.size() > 1) {
    out.refusal = "one SQL statement per call (found " + std::to_string(scanned.statements.size()) +
                  "); run each with its own conn:exec or conn:query";
    return out;
  }
  const auto& words = scanned.statements[0];
  out.statement.sql = std::string(sql.substr(scanned.first_begin, scanned.first_end - scanned.first_begin));
  if (words.empty()) return out;  // punctuation only: the server says what is wrong
  out.refusal = refusal(words);
  out.statement.commits = commits_implicitly(words);
  out.statement.writes = !only_reads(words);
  return out;
}

}  // namespace cronhost::api
