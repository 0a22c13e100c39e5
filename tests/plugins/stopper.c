/* stopper.c: a cooperative test plugin that sleeps in 10 ms steps until should_stop says the
 * run is past its deadline, then fails with ESTOP and "stopped at deadline". For timeouts of
 * inline plugins, which the host cannot kill. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  static const char message[] = "stopped at deadline";
  const struct timespec step = {0, 10 * 1000 * 1000};
  while (!host->should_stop(run)) nanosleep(&step, NULL);
  host->set_error(run, message, strlen(message));
  return CRONHOST_ESTOP;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "stopper", "1.0.0", NULL, run, NULL,
    "Waits until asked to stop",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
