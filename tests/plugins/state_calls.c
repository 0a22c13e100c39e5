/* state_calls.c: a plugin for bench/plugin_bench: one state_put, then STATE_CALLS state_get of
 * the same key (answered from the run's own write, so no state file is read): a run's time
 * over an empty plugin's is that many host-call round trips. Fails the run if a call fails. */
#include <string.h>

#include <cronhost/plugin.h>

#define STATE_CALLS 100

static int fail(cronhost_run_t *run, const cronhost_host_api_t *host, int status) {
  size_t len = 0;
  const char *error = host->last_error(run, &len);
  host->set_error(run, error, len);
  return status;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  int status = host->state_put(run, "k", 1, "{\"n\": 1}", 8);
  if (status != CRONHOST_OK) return fail(run, host, status);
  for (int i = 0; i < STATE_CALLS; ++i) {
    cronhost_buf_t value = {NULL, 0};
    status = host->state_get(run, "k", 1, &value);
    host->free_buf(&value);
    if (status != CRONHOST_OK) return fail(run, host, status);
  }
  return CRONHOST_OK;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "state_calls", "1.0.0", NULL, run, NULL,
    "Makes 100 state_get calls",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
