// A copy of a live SQLite database made with SQLite's online backup API, a few pages at a
// time, so writers on the source wait only for one step, never for the whole copy.
// Uses the caller's source connection, from the caller's thread only.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "util/status.hpp"

struct sqlite3;

namespace cronhost::api {

struct BackupStats {
  uintmax_t bytes = 0;  // size of the copy
  int pages = 0;
};

// Copies the main database of `source` into `dest_name` in the open folder `dest_folder`
// through a TempFile, so dest ends up the whole copy or untouched. SQLite reaches the file
// through the folder's descriptor, never by its path. A source that stays locked longer than its connection's busy
// handler waits fails with SQLite's message ("database is locked"), as does a source that
// this same connection is writing. `keep_going` is asked before every step; when it says no
// the error is "stopped" and the caller reports why.
Result<BackupStats> backup_sqlite(sqlite3* source, int dest_folder, const std::string& dest_name,
                                  const std::function<bool()>& keep_going);

}  // namespace cronhost::api
