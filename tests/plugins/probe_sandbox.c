/* probe_sandbox.c: tries what an isolated plugin must not be able to do to the host, and
 * reports each attempt's errno (0: it worked) as its result, for a test to check:
 *   {"prlimit_parent": 1, "setpriority": 1, "fcntl_setown": 1, "pdeathsig": 1, "socket": 1,
 *    "io_uring": 38, "open_write": 13, "env_secret": false, "open_fds": 0, "fork": 1,
 *    "uid": 0, "gid": 0, "groups": 0}   (who it runs as, and its supplementary groups) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cronhost/plugin.h>

/* errno of a call returning -1 on failure, 0 when it succeeded. */
static int attempt(long rc) { return rc == -1 ? errno : 0; }

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  const pid_t parent = getppid();
  const struct rlimit one = {1, 1};
  int pipe_fds[2] = {-1, -1};
  char result[640];
  int open_fds = 0;
  int fd;
  int n;
  const int prlimit_parent = attempt(prlimit(parent, RLIMIT_CPU, &one, NULL));
  const int setpriority_parent = attempt(setpriority(PRIO_PROCESS, (id_t)parent, 19));
  int setown = -1;
  if (pipe(pipe_fds) == 0) setown = attempt(fcntl(pipe_fds[0], F_SETOWN, parent));
  const int pdeathsig = attempt(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0));
  const int sock = attempt(socket(AF_INET, SOCK_STREAM, 0));
  const int uring = attempt(syscall(425 /* io_uring_setup */, 1, NULL));
  const int open_write = attempt(open("/tmp/cronhost-probe-sandbox", O_WRONLY | O_CREAT, 0600));
  const int forked = attempt(fork());
  /* Descriptors beyond stdin, stdout, stderr, the socket to the host and the pipe above. */
  for (fd = 4; fd < 64; ++fd)
    if (fd != pipe_fds[0] && fd != pipe_fds[1] && fcntl(fd, F_GETFD) != -1) ++open_fds;
  n = snprintf(result, sizeof result,
               "{\"prlimit_parent\": %d, \"setpriority\": %d, \"fcntl_setown\": %d, \"pdeathsig\": %d, "
               "\"socket\": %d, \"io_uring\": %d, \"open_write\": %d, \"env_secret\": %s, \"open_fds\": %d, "
               "\"fork\": %d, \"uid\": %d, \"gid\": %d, \"groups\": %d}",
               prlimit_parent, setpriority_parent, setown, pdeathsig, sock, uring, open_write,
               getenv("CRONHOST_TEST_SECRET") ? "true" : "false", open_fds, forked, (int)getuid(), (int)getgid(),
               getgroups(0, NULL));
  return host->set_result(run, result, (size_t)n);
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "probe_sandbox", "1.0.0", NULL, run, NULL,
    "Tries to reach the host from inside the sandbox",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
