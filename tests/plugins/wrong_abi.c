/* wrong_abi.c: a test plugin that claims ABI 2.0, a major version the host must refuse to load. */
#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  (void)run;
  (void)host;
  return CRONHOST_OK;
}

static const cronhost_plugin_t plugin = {
    (uint32_t)(2 << 16) | 0, sizeof(cronhost_plugin_t), "wrong_abi", "1.0.0", NULL, run, NULL, "Claims ABI 2.0",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
