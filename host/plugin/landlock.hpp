// Landlock (Linux 5.13 and later): a process restricting its own access to files, which
// the runner uses so that an isolated plugin reads only what it needs to run (the system's
// libraries, its own file, a few devices) and never /proc of the host or the host's files.
// Raw system calls: no library needed. landlock_abi() and landlock_summary() are thread-safe;
// restrict_file_access() binds the calling thread and the threads it starts later, so the
// runner calls it while it has no other thread.
#pragma once
#include <string>
#include <vector>

#include "util/status.hpp"

namespace cronhost::plugin {

// The Landlock ABI version the kernel offers: 0 when it has none (too old, or the LSM is not
// enabled at boot), 1 and up otherwise.
int landlock_abi();

// What is said in the log and by `cronhost plugin check` about the file walls.
std::string landlock_summary();

// The files and folders every run may read: libraries, zone data, devices.
const std::vector<std::string>& system_readable_paths();

// From now on this process (and its threads) can read and execute only under `readable`
// (paths that do not exist are skipped), and can create, write, remove or rename nothing, nor
// make TCP connections or signal processes outside it (where the ABI has those). Needs
// no_new_privs. Without Landlock it does nothing and returns ok: landlock_abi() says so.
Status restrict_file_access(const std::vector<std::string>& readable);

}  // namespace cronhost::plugin
