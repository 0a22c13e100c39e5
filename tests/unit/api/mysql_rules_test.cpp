// What the MySQL engine reads in a statement before the server sees it: a table of
// (SQL, refused by which rule, writes, commits implicitly).
#include "api/mysql_rules.hpp"

#include <catch2/catch.hpp>

using cronhost::api::read_mysql_statement;

TEST_CASE("MySQL rules: the statement's kind and the refused ones", "[mysql_rules]") {
  struct Row {
    std::string sql;
    std::string refused;  // the start of the refusal, empty: allowed
    bool writes;
    bool commits;
  };
  const std::vector<Row> table = {
      {"SELECT * FROM t WHERE a = ?", "", false, false},
      {"  select 1 ;  ", "", false, false},
      {"SELECT ';' AS s, \"it's\" AS q, `odd;name` FROM t -- ; DROP TABLE t\n", "", false, false},
      {"SELECT 1 # ; DELETE FROM t", "", false, false},
      {"SELECT /*+ MAX_EXECUTION_TIME(1) */ 1", "", false, false},
      {"SHOW TABLES", "", false, false},
      {"WITH x AS (SELECT 1) SELECT * FROM x", "", false, false},
      {"WITH x AS (SELECT 1) UPDATE t SET a = 1", "", true, false},
      {"INSERT INTO t VALUES (1)", "", true, false},
      {"update t set a = 'LOAD DATA INFILE'", "", true, false},
      {"DELETE FROM t", "", true, false},
      {"CALL refresh()", "", true, false},
      {"CREATE TABLE t (id INT)", "", true, true},
      {"create temporary table s (id int)", "", true, false},
      {"DROP TEMPORARY TABLE s", "", true, false},
      {"ALTER TABLE t ADD c INT", "", true, true},
      {"TRUNCATE t", "", true, true},
      {"RENAME TABLE a TO b", "", true, true},
      {"GRANT SELECT ON app.* TO x", "", true, true},
      {"LOCK TABLES t WRITE", "", true, true},
      {"SET GLOBAL max_connections = 1", "", true, true},
      {"SET @n = 1", "", false, false},
      {"SELECT 1; SELECT 2", "one SQL statement per call: this SQL holds 2", false, false},
      {"SELECT 1;;", "", false, false},
      {"LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", "LOAD DATA is refused", false, false},
      {"LOAD XML INFILE 'x' INTO TABLE t", "LOAD XML is refused", false, false},
      {"SELECT a INTO OUTFILE '/tmp/x' FROM t", "SELECT ... INTO OUTFILE is refused", false, false},
      {"SELECT a FROM t INTO DUMPFILE '/tmp/x'", "SELECT ... INTO DUMPFILE is refused", false, false},
      {"SELECT a INTO @v FROM t", "", false, false},
      {"SELECT load_file('/etc/passwd')", "load_file() is refused", false, false},
      {"SELECT `LOAD_FILE`('/etc/passwd')", "load_file() is refused", false, false},
      {"SELECT 1 /*! , LOAD_FILE('/etc/passwd') */", "load_file() is refused", false, false},
      {"SELECT 1 /*M!100000 , 2 */", "", false, false},
      {"BEGIN", "BEGIN is refused: use conn:transaction(fn)", false, false},
      {"START TRANSACTION READ WRITE", "START is refused: use conn:transaction(fn)", false, false},
      {"ROLLBACK", "ROLLBACK is refused: use conn:transaction(fn)", false, false},
      {"XA START 'x'", "XA is refused: use conn:transaction(fn)", false, false},
      {"SET autocommit = 1", "SET of autocommit", false, false},
      {"SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'", "SET of sql_mode or the client character set", false, false},
      {"SET @@sql_mode = 'ANSI_QUOTES'", "SET of sql_mode or the client character set", false, false},
      {"SET NAMES gbk", "SET of sql_mode or the client character set", false, false},
      {"SET CHARACTER SET gbk", "SET of sql_mode or the client character set", false, false},
      {"set character_set_client = gbk", "SET of sql_mode or the client character set", false, false},
      {"SET @@session.`autocommit` = 1", "SET of autocommit", false, false},
      {"SET SESSION TRANSACTION READ WRITE", "SET of autocommit", false, false},
      {"SET STATEMENT max_statement_time = 0 FOR SELECT SLEEP(9)", "SET of autocommit", false, false},
      {"EXECUTE IMMEDIATE 'SELECT 1'", "PREPARE, EXECUTE", false, false},
  };
  for (const auto& row : table) {
    INFO(row.sql);
    const auto reading = read_mysql_statement(row.sql);
    if (row.refused.empty()) {
      CHECK_FALSE(reading.refusal);
      CHECK(reading.statement.writes == row.writes);
      CHECK(reading.statement.commits == row.commits);
    } else {
      REQUIRE(reading.refusal);
      CHECK_THAT(*reading.refusal, Catch::StartsWith(row.refused));
    }
  }
  CHECK(read_mysql_statement("  select 1 ;  ").statement.sql == "select 1");
  CHECK(read_mysql_statement("SELECT 1; -- done").statement.sql == "SELECT 1; -- done");
  CHECK(read_mysql_statement(" -- only a comment\n").statement.empty);
  CHECK(read_mysql_statement("").statement.empty);
}
