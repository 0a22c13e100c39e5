/* empty.c: a test plugin whose run does nothing and succeeds: the floor for measuring what
 * loading and running a plugin costs. */
#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  (void)run;
  (void)host;
  return CRONHOST_OK;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "empty", "1.0.0", NULL, run, NULL, "Does nothing, quickly",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
