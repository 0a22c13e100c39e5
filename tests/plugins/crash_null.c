/* crash_null.c: a test plugin that writes through a NULL pointer (SIGSEGV), for tests that a
 * crashing plugin fails its run and leaves the host running. */
#include <stddef.h>

#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  /* Both volatile: the compiler may neither drop the store nor, knowing the pointer is NULL,
   * turn it into a trap instruction (SIGILL instead of SIGSEGV). */
  volatile int *volatile target = NULL;
  (void)run;
  (void)host;
  *target = 42;
  return CRONHOST_OK;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "crash_null", "1.0.0", NULL, run, NULL, "Writes through NULL",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
