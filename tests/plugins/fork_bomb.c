/* fork_bomb.c: a test plugin that tries to start 1000 processes. The sandbox denies fork, so
 * the run is expected to fail with "fork: Operation not permitted". Should fork work, the
 * children wait forever (asleep, not spinning: a broken sandbox on a small test machine
 * should not also starve it) and the run fails saying how many were started. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cronhost/plugin.h>

#define FORKS 1000

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  char message[128];
  int started;
  for (started = 0; started < FORKS; started++) {
    const pid_t pid = fork();
    if (pid == 0) {
      for (;;) pause();
    }
    if (pid < 0) {
      snprintf(message, sizeof message, "fork: %s", strerror(errno));
      host->set_error(run, message, strlen(message));
      return CRONHOST_EFAILED;
    }
  }
  snprintf(message, sizeof message, "fork was not denied: %d children started", started);
  host->set_error(run, message, strlen(message));
  return CRONHOST_EFAILED;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "fork_bomb", "1.0.0", NULL, run, NULL,
    "Tries to fork 1000 processes",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
