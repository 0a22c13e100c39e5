// What a server engine needs to know about a statement's text before sending it: where its
// `?` placeholders are (PostgreSQL wants $1..$n), how many statements it holds, and whether
// it uses a construct job code may not (files or programs on the database server).
//
// A tokenizer, not a parser: it walks the text skipping what is not code (string literals,
// quoted identifiers, comments) the way the server's own lexer does, so that a `?` or a COPY
// inside a literal or a comment counts for nothing, and a MySQL /*! ... */ comment (which the
// server executes) counts as code. The database's grants stay the real wall: this catches
// what a job could write by mistake or in plain sight, not dynamic SQL run by the server.
//
// Pure functions over the text; thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cronhost::api {

enum class SqlDialect { kPostgres, kMysql };

struct SqlToken {
  enum class Kind {
    kWord,         // keyword or bare identifier; text upper-cased
    kQuotedName,   // "ident" (PostgreSQL) or `ident` (MySQL); text upper-cased, quotes removed
    kLiteral,      // a string, dollar-quoted or numeric literal; text empty
    kPlaceholder,  // ?
    kNumbered,     // $1 written in the SQL itself (PostgreSQL)
    kSemicolon,    // a statement's end (not one inside a BEGIN ... END body)
    kSymbol,       // any other character; text is that character
  };
  Kind kind;
  std::string text;
};

struct SqlText {
  std::vector<SqlToken> tokens;  // the code, in order, without comments and blanks
  std::string translated;        // kPostgres: each ? as $n; kMysql: the text as given
  int placeholders = 0;          // the ? outside literals, identifiers and comments
  int statements = 0;            // non-empty statements between semicolons
  std::string problem;           // an unterminated literal, identifier or comment; empty when none
};

// Walks `sql` once. Never fails: a problem is reported in SqlText::problem.
SqlText scan_sql(std::string_view sql, SqlDialect dialect);

// Why the statement may not run through the db API, naming the rule: more than one statement,
// transaction control outside conn:transaction, or a construct that reads or writes files or
// programs on the server. Empty when it may run. The text is without the "db: NAME: " prefix.
std::optional<std::string> sql_refusal(const SqlText& text, SqlDialect dialect);

}  // namespace cronhost::api
