/* small_struct.c: a test plugin whose struct_size (8) covers only abi_version and
 * struct_size, not even run: the host must refuse it rather than read past it. */
#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  (void)run;
  (void)host;
  return CRONHOST_OK;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, 8, "small_struct", "1.0.0", NULL, run, NULL, "Claims a struct too small to hold run",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
