#include "api/mysql_rules.hpp"

#include "api/sql_text.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace cronhost::api {
namespace {

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

// What api/sql_text leaves to the engine: MySQL's other ways to end the transaction the API
// keeps (XA, autocommit), to change the session's mode and limits, and SQL-level prepared
// statements, which would run text the rules never saw.
std::optional<std::string> refusal(const std::vector<std::string>& w) {
  const std::string& first = w[0];
  const std::string second = w.size() > 1 ? w[1] : "";
  if (first == "XA")
    return "XA is refused: use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE or XA";
  if (first == "SET" && (second == "TRANSACTION" || (w.size() > 2 && w[2] == "TRANSACTION") ||
                         any_of_words(w, {"AUTOCOMMIT", "COMPLETION_TYPE", "TX_READ_ONLY", "TRANSACTION_READ_ONLY",
                                          "MAX_STATEMENT_TIME", "MAX_EXECUTION_TIME", "SQL_LOG_BIN"})))
    return "SET of autocommit, the transaction's mode or the statement time limits belongs to the host "
           "(conn:transaction, readonly:, the run's deadline)";
  // How the server reads the next statement's text: with NO_BACKSLASH_ESCAPES, ANSI_QUOTES or a
  // multibyte client charset (GBK's 0xbf5c) it would read strings other than api/sql_text did,
  // and a refused construct could hide inside what the rules took for a literal.
  if (first == "SET" && any_of_words(w, {"SQL_MODE", "NAMES", "CHARACTER", "CHARSET", "CHARACTER_SET_CLIENT",
                                         "CHARACTER_SET_CONNECTION", "COLLATION_CONNECTION"}))
    return "SET of sql_mode or the client character set is refused: the session's mode and utf8mb4 are how the "
           "host reads every statement it checks";
  if (first == "PREPARE" || first == "EXECUTE" || first == "DEALLOCATE")
    return "PREPARE, EXECUTE and EXECUTE IMMEDIATE are refused: the db API prepares each statement itself "
           "(use ? placeholders)";
  return std::nullopt;
}

}  // namespace

MysqlReading read_mysql_statement(std::string_view sql) {
  MysqlReading out;
  const SqlText text = scan_sql(sql, SqlDialect::kMysql);
  if (text.statements == 0) {
    out.statement.empty = true;
    return out;
  }
  if (auto why = sql_refusal(text, SqlDialect::kMysql)) {
    out.refusal = std::move(*why);
    return out;
  }
  std::vector<std::string> words;  // bare and `quoted` names: MySQL calls `LOAD_FILE`() too
  for (const auto& token : text.tokens)
    if (token.kind == SqlToken::Kind::kWord || token.kind == SqlToken::Kind::kQuotedName) words.push_back(token.text);
  // The server takes a trailing ';'; the capture of a dry run reads better without it.
  while (!sql.empty() && (sql.back() == ';' || std::isspace(static_cast<unsigned char>(sql.back())))) sql.remove_suffix(1);
  while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.front()))) sql.remove_prefix(1);
  out.statement.sql = std::string(sql);
  if (words.empty()) return out;  // punctuation only: the server says what is wrong
  out.refusal = refusal(words);
  out.statement.commits = commits_implicitly(words);
  out.statement.writes = !only_reads(words);
  return out;
}

}  // namespace cronhost::api
