/* exit_run.c: a test plugin that ends its process with _exit(3) in the middle of a run, as a
 * plugin calling exit() on an error would. */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  (void)run;
  (void)host;
  _exit(3);
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "exit_run", "1.0.0", NULL, run, NULL, "Calls _exit(3)",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
