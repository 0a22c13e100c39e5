// The one-host lock of a state file: an exclusive flock(2) on the database file itself, so
// every name of the file (a symlink, a hard link, another relative path) meets the same lock.
// A lock file named after the path let a second host in through another name.
// Not thread-safe: taken once by Store::open.
#pragma once
#include <filesystem>

#include "util/status.hpp"

namespace cronhost::store {

// Opens (creating) `state_path` and takes the lock without waiting. Returns the descriptor that
// holds it (the kernel drops the lock when the process dies). The caller closes it only after
// its SQLite connections to the file are closed: closing any descriptor of a file drops the
// process's POSIX locks on it, and SQLite's are POSIX locks.
// Fails when another process holds it: "another cronhost (pid 42) is using the state file X".
Result<int> lock_state_file(const std::filesystem::path& state_path);

}  // namespace cronhost::store
