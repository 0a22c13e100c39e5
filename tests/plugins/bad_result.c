/* bad_result.c: a test plugin that gives set_result text that is not JSON, ignores the
 * refusal and returns success: the host fails the run (its result was refused) and never
 * stores the bad text. */
#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  (void)host->set_result(run, "{not json", 9);
  return CRONHOST_OK;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "bad_result", "1.0.0", NULL, run, NULL,
    "Sets a result that is not JSON",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
