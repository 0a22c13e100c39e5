// The tokenizer behind the server engines: what is code, what is a literal or a comment.
#include <catch2/catch.hpp>

#include "api/sql_text.hpp"

using namespace cronhost::api;

namespace {

std::string refusal(std::string_view sql, SqlDialect dialect) {
  const auto text = scan_sql(sql, dialect);
  REQUIRE(text.problem.empty());
  return sql_refusal(text, dialect).value_or("");
}

}  // namespace

TEST_CASE("sql text: ? outside literals, identifiers and comments become $n on PostgreSQL", "[api][sql_text]") {
  struct Case {
    std::string sql, translated;
    int placeholders;
  };
  for (const auto& c : std::vector<Case>{
           {"SELECT ?", "SELECT $1", 1},
           {"SELECT * FROM t WHERE a=? AND b = ?", "SELECT * FROM t WHERE a=$1 AND b = $2", 2},
           {"SELECT '?', ?", "SELECT '?', $1", 1},
           {"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1},
           {"SELECT E'\\' ?', ?", "SELECT E'\\' ?', $1", 1},        // \' does not end an E'' string
           {"SELECT e'a\\\\', ?", "SELECT e'a\\\\', $1", 1},         // \\ is one backslash: the quote ends it
           {"SELECT 'a\\', ?", "SELECT 'a\\', $1", 1},               // a plain '' string has no escapes
           {"SELECT \"what?\" FROM t WHERE x = ?", "SELECT \"what?\" FROM t WHERE x = $1", 1},
           {"SELECT \"a\"\"?\" , ?", "SELECT \"a\"\"?\" , $1", 1},
           {"SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1", 1},
           {"SELECT $fn$ it's ? $x$ $fn$, ?", "SELECT $fn$ it's ? $x$ $fn$, $1", 1},
           {"SELECT a$b$c, ?", "SELECT a$b$c, $1", 1},                // $ inside an identifier
           {"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2", 2},
           {"SELECT /* ? /* nested ? */ still ? */ ?", "SELECT /* ? /* nested ? */ still ? */ $1", 1},
           {"SELECT ?::int + ?", "SELECT $1::int + $2", 2},
           {"SELECT data ? 'key' FROM t", "SELECT data $1 'key' FROM t", 1},  // the jsonb operator: a placeholder
       }) {
    INFO(c.sql);
    const auto text = scan_sql(c.sql, SqlDialect::kPostgres);
    CHECK(text.problem.empty());
    CHECK(text.translated == c.translated);
    CHECK(text.placeholders == c.placeholders);
    CHECK(text.statements == 1);
  }
}

TEST_CASE("sql text: MySQL keeps ? and skips its own quotes and comments", "[api][sql_text]") {
  for (const auto& [sql, placeholders] : std::vector<std::pair<std::string, int>>{
           {"SELECT ?", 1},
           {"SELECT '?', \"?\", `?`, ?", 1},
           {"SELECT 'it\\'s ?', ?", 1},       // backslash escapes in '..'
           {"SELECT \"say \\\"?\\\"\", ?", 1},
           {"SELECT `a``?`, ?", 1},
           {"SELECT ? # why?\n", 1},
           {"SELECT ? -- why?\n", 1},
           {"SELECT 5--?\n", 1},               // "--" without a space is minus minus
           {"SELECT /* ? */ ?", 1},
           {"SELECT /*! ? */ 1", 1},           // executed by the server: code
           {"SELECT /*!50000 ? */ /*M!100500 ? */", 2},
       }) {
    INFO(sql);
    const auto text = scan_sql(sql, SqlDialect::kMysql);
    CHECK(text.problem.empty());
    CHECK(text.translated == sql);
    CHECK(text.placeholders == placeholders);
  }
}

TEST_CASE("sql text: statements are counted, and routine bodies are one statement", "[api][sql_text]") {
  const auto count = [](std::string_view sql, SqlDialect dialect) { return scan_sql(sql, dialect).statements; };
  CHECK(count("SELECT 1", SqlDialect::kPostgres) == 1);
  CHECK(count("SELECT 1;", SqlDialect::kPostgres) == 1);
  CHECK(count("  ; ;SELECT 1; ; -- done", SqlDialect::kPostgres) == 1);
  CHECK(count("", SqlDialect::kPostgres) == 0);
  CHECK(count("-- nothing\n/* at all */", SqlDialect::kPostgres) == 0);
  CHECK(count("SELECT 1; SELECT 2", SqlDialect::kPostgres) == 2);
  CHECK(count("SELECT ';'; SELECT $$;$$", SqlDialect::kPostgres) == 2);
  CHECK(count("SELECT ';' -- ;\n/* ; */", SqlDialect::kPostgres) == 1);
  CHECK(count("SELECT 1 /*!; DROP TABLE t */", SqlDialect::kMysql) == 2);  // run by the server
  CHECK(count("SELECT 1 /*; DROP TABLE t */", SqlDialect::kMysql) == 1);
  CHECK(count("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END",
              SqlDialect::kPostgres) == 1);
  CHECK(count("CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; LOOP LEAVE; END LOOP; SELECT 2; END; SELECT 3",
              SqlDialect::kMysql) == 2);
  CHECK(count("BEGIN; SELECT 1", SqlDialect::kMysql) == 2);
}

TEST_CASE("sql text: unterminated literals and comments are reported", "[api][sql_text]") {
  for (const auto& [sql, dialect, problem] : std::vector<std::tuple<std::string, SqlDialect, std::string>>{
           {"SELECT 'abc", SqlDialect::kPostgres, "the SQL has an unterminated string literal (from character 8)"},
           {"SELECT E'abc\\'", SqlDialect::kPostgres, "the SQL has an unterminated string literal (from character 9)"},
           {"SELECT \"abc", SqlDialect::kPostgres, "the SQL has an unterminated quoted identifier (from character 8)"},
           {"SELECT $a$ abc $b$", SqlDialect::kPostgres, "the SQL has an unterminated dollar-quoted string (from character 8)"},
           {"SELECT /* /* */ 1", SqlDialect::kPostgres, "the SQL has an unterminated comment (from character 8)"},
           {"SELECT `abc", SqlDialect::kMysql, "the SQL has an unterminated quoted identifier (from character 8)"},
           {"SELECT 'a\\'", SqlDialect::kMysql, "the SQL has an unterminated string literal (from character 8)"},
       }) {
    INFO(sql);
    CHECK(scan_sql(sql, dialect).problem == problem);
  }
  CHECK(scan_sql("SELECT /* /* */ */ 1", SqlDialect::kPostgres).problem.empty());
  CHECK(scan_sql("SELECT /* /* */ 1", SqlDialect::kMysql).problem.empty());  // MySQL does not nest
}

TEST_CASE("sql text: PostgreSQL file and program constructs are refused, naming the rule", "[api][sql_text]") {
  const auto pg = [](std::string_view sql) { return refusal(sql, SqlDialect::kPostgres); };
  const std::string copy =
      "COPY is refused: it reads or writes files or programs on the database server (use conn:query / conn:exec with rows)";
  CHECK(pg("COPY t TO '/tmp/t.csv'") == copy);
  CHECK(pg("copy t from program 'id'") == copy);
  CHECK(pg("  /* why */ COPY (SELECT 1) TO STDOUT") == copy);
  CHECK(pg("COPY t FROM STDIN") == copy);
  CHECK(pg("SELECT pg_read_file('/etc/passwd')") == "pg_read_file() is refused: it reads or writes files on the database server");
  CHECK(pg("SELECT pg_catalog.PG_READ_BINARY_FILE ('/etc/passwd')") ==
        "pg_read_binary_file() is refused: it reads or writes files on the database server");
  CHECK(pg("SELECT \"pg_ls_dir\"('.')") == "pg_ls_dir() is refused: it reads or writes files on the database server");
  CHECK(pg("SELECT pg_stat_file /* x */ ('.')") == "pg_stat_file() is refused: it reads or writes files on the database server");
  CHECK(pg("SELECT pg_file_write('a','b',false)") == "pg_file_write() is refused: it reads or writes files on the database server");
  CHECK(pg("SELECT lo_import('/etc/passwd')") ==
        "lo_import() is refused: it reads a file on the database server (bind the bytes as a value instead)");
  CHECK(pg("SELECT lo_export(1, '/tmp/x')") == "lo_export() is refused: it writes a file on the database server (select the bytes instead)");
  CHECK(pg("SELECT * FROM dblink('host=x', 'select 1') AS t(a int)") ==
        "dblink() is refused: it connects from the database server to other databases");
  CHECK(pg("SELECT dblink_exec('host=x', 'drop table t')") ==
        "dblink_exec() is refused: it connects from the database server to other databases");
  // In literals, identifiers, comments or as a plain column name they are text, not calls.
  CHECK(pg("SELECT 'COPY t TO ''/tmp''', 'pg_read_file(''x'')'") == "");
  CHECK(pg("SELECT 1 -- COPY t TO '/tmp/x'\n") == "");
  CHECK(pg("SELECT /* pg_read_file('x') */ 1") == "");
  CHECK(pg("SELECT $q$ lo_import('/etc/passwd') $q$") == "");
  CHECK(pg("SELECT copy, pg_read_file FROM t") == "");
  CHECK(pg("SELECT E'\\' , pg_read_file(''x'') , '") == "");  // all one E'' literal
}

TEST_CASE("sql text: MySQL file constructs are refused, /*! */ included", "[api][sql_text]") {
  const auto my = [](std::string_view sql) { return refusal(sql, SqlDialect::kMysql); };
  const std::string load = "LOAD DATA is refused: it reads files on the database server or the host (insert the rows with conn:exec)";
  CHECK(my("LOAD DATA INFILE '/etc/passwd' INTO TABLE t") == load);
  CHECK(my("load data local infile 'x' into table t") == load);
  CHECK(my("LOAD XML INFILE 'x' INTO TABLE t") ==
        "LOAD XML is refused: it reads files on the database server or the host (insert the rows with conn:exec)");
  CHECK(my("SELECT * FROM t INTO OUTFILE '/tmp/t'") ==
        "SELECT ... INTO OUTFILE is refused: it writes a file on the database server (select the rows with conn:query)");
  CHECK(my("SELECT a INTO DUMPFILE '/tmp/t' FROM t") ==
        "SELECT ... INTO DUMPFILE is refused: it writes a file on the database server (select the rows with conn:query)");
  CHECK(my("SELECT LOAD_FILE('/etc/passwd')") == "load_file() is refused: it reads a file on the database server");
  CHECK(my("SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */") ==
        "SELECT ... INTO OUTFILE is refused: it writes a file on the database server (select the rows with conn:query)");
  CHECK(my("SELECT /*M! load_file('/etc/passwd') */ 1") == "load_file() is refused: it reads a file on the database server");
  CHECK(my("SELECT 'INTO OUTFILE', \"load_file(1)\", `load_file` FROM t") == "");
  CHECK(my("SELECT 1 /* INTO OUTFILE '/tmp/x' */ # LOAD_FILE('x')\n") == "");
  CHECK(my("SELECT 'it\\' INTO OUTFILE ' FROM t") == "");  // \' stays inside the literal
  CHECK(my("SELECT a INTO @x FROM t") == "");
}

TEST_CASE("sql text: transaction control and several statements are refused on both", "[api][sql_text]") {
  for (const auto dialect : {SqlDialect::kPostgres, SqlDialect::kMysql}) {
    CHECK(refusal("BEGIN", dialect) ==
          "BEGIN is refused: use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE");
    CHECK(refusal("commit", dialect) ==
          "COMMIT is refused: use conn:transaction(fn) rather than BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE");
    CHECK(refusal("START TRANSACTION", dialect).rfind("START is refused", 0) == 0);
    CHECK(refusal("ROLLBACK TO x", dialect).rfind("ROLLBACK is refused", 0) == 0);
    CHECK(refusal("SELECT 1; DELETE FROM t", dialect) ==
          "one SQL statement per call: this SQL holds 2 (run them one at a time, inside conn:transaction when they "
          "belong together)");
    CHECK(refusal("SELECT 'begin; commit'", dialect) == "");
  }
}
