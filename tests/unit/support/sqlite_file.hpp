// A SQLite database file made from SQL, for tests that give a job an "app" database.
#pragma once
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace cronhost::test {

inline void make_sqlite_file(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO(sql << ": " << (error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace cronhost::test
