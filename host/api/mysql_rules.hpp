// What the MySQL/MariaDB engine allows from job code, read from the statement's text before
// the server sees it: one statement per call, no file access (LOAD DATA/XML, INTO OUTFILE or
// DUMPFILE, LOAD_FILE), no transaction control outside conn:transaction, and which statements
// a dry run may run (those that commit implicitly are only captured). api/sql_text reads the
// text and holds the rules every server engine shares; these are MySQL's own. Pure functions;
// any thread.
//
// The server's grants remain the real wall: these rules stop a job's mistakes and the obvious
// ways out, not a determined user with the privileges to create a procedure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace cronhost::api {

struct MysqlStatement {
  std::string sql;            // the one statement, without a trailing ';'
  bool empty = false;         // no statement at all (only blanks or comments)
  bool writes = false;        // may change data (captured in a dry run)
  bool commits = false;       // commits implicitly (DDL, LOCK TABLES, ...): a dry run skips it
};

// The statement in `sql`, or why it is refused (a sentence naming the rule).
struct MysqlReading {
  MysqlStatement statement;
  std::optional<std::string> refusal;
};
MysqlReading read_mysql_statement(std::string_view sql);

}  // namespace cronhost::api
