// Runs a function on a store's database thread (DbThread or PgWriter: anything with call())
// and turns an exception there (SQLite's or libpq's failure) into an error naming `what`.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "util/status.hpp"

namespace cronhost::store {

// `fn` returns T or Result<T>.
template <typename T, typename Db, typename F>
Result<T> call_result(Db& db, const char* what, F fn) {
  try {
    return db.call(std::move(fn));
  } catch (const std::exception& e) {
    return Result<T>::error(std::string(what) + ": " + e.what());
  }
}

template <typename Db, typename F>
Status call_status(Db& db, const char* what, F fn) {
  try {
    db.call(std::move(fn));
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string(what) + ": " + e.what());
  }
}

}  // namespace cronhost::store
