/* abort_run.c: a test plugin that calls abort() (SIGABRT) in its run. */
#include <stdlib.h>

#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  (void)run;
  (void)host;
  abort();
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "abort_run", "1.0.0", NULL, run, NULL, "Calls abort()",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
