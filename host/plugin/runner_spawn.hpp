// Starting cronhost-plugin-runner: stdin from /dev/null, stdout and stderr into `output_fd`,
// the socket to the host (if any) as fd 3, every signal at its default and unblocked, in a
// session of its own (nothing it does to "its" process group reaches the host), with only
// PATH, LANG, LC_ALL and TZ of the host's environment. posix_spawn, unlike fork, is safe in a
// process with many threads. Thread-safe.
#pragma once
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

#include "util/status.hpp"

namespace cronhost::plugin {

// The descriptors must be above 3 (see above_standard); socket_fd -1: none. `extra_env`
// ("NAME=value") is added to the environment.
Result<pid_t> spawn_runner(const std::filesystem::path& runner, const std::vector<std::string>& args, int output_fd,
                           int socket_fd = -1, const std::vector<std::string>& extra_env = {});

// Moves an fd to 10 or above and closes the original, so a dup2 onto 0..3 in the child never
// meets itself (a dup2 onto the same number would keep its close-on-exec flag).
int above_standard(int fd);

}  // namespace cronhost::plugin
