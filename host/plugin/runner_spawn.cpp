#include "plugin/runner_spawn.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

namespace cronhost::plugin {

Result<pid_t> spawn_runner(const std::filesystem::path& runner, const std::vector<std::string>& args, int output_fd,
                           int socket_fd, const std::vector<std::string>& extra_env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
  if (socket_fd >= 0) posix_spawn_file_actions_adddup2(&actions, socket_fd, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // the host blocks SIGHUP/SIGTERM for sigwait
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  const std::string program = runner.string();
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // Not the host's environment: it holds the secrets of every job. Locale and zone only.
  std::vector<std::string> kept = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  for (const char* name : {"LANG", "LC_ALL", "TZ"})
    if (const char* value = std::getenv(name)) kept.push_back(std::string(name) + "=" + value);
  kept.insert(kept.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env;
  for (auto& entry : kept) env.push_back(entry.data());
  env.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Result<pid_t>::error("cannot start the plugin runner " + program + ": " + std::strerror(rc));
  return pid;
}

int above_standard(int fd) {
  if (fd > 3) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  return moved;
}

}  // namespace cronhost::plugin
