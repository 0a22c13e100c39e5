/* spin.c: a test plugin that loops forever and never asks should_stop: the host must stop it
 * from outside at the run's deadline. */
#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  /* volatile: a loop without side effects may be assumed to end (C11 6.8.5p6) and be removed. */
  volatile unsigned long counter = 0;
  (void)run;
  (void)host;
  for (;;) counter++;
  return CRONHOST_OK; /* not reached */
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "spin", "1.0.0", NULL, run, NULL, "Busy-loops, ignoring should_stop",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
