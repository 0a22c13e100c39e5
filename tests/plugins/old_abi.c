/* old_abi.c: a test plugin built against ABI 1.0 (tests/fixtures/plugin_abi_1_0), whose
 * structs lack the 1.1 fields: the host must accept its shorter cronhost_plugin_t. The result
 * {"old_abi": true, "host_struct_size": N} shows the host table it was given. */
#include <stdio.h>
#include <string.h>

#include <cronhost/plugin.h>

#if CRONHOST_ABI_MINOR != 0
#error "old_abi.c must be built against the ABI 1.0 header in tests/fixtures/plugin_abi_1_0"
#endif

static int fail_with_host_error(cronhost_run_t *run, const cronhost_host_api_t *host, int status) {
  size_t len = 0;
  const char *error = host->last_error(run, &len);
  host->set_error(run, error, len);
  return status;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  cronhost_buf_t params = {NULL, 0};
  char line[512], result[96];
  int status = host->params(run, &params);
  if (status != CRONHOST_OK) {
    status = fail_with_host_error(run, host, status);
    host->free_buf(&params);
    return status;
  }
  snprintf(line, sizeof line, "old_abi params: %s", params.data != NULL ? params.data : ""); /* cut at 511 bytes: a log line */
  host->log(run, CRONHOST_LOG_INFO, line, strlen(line));
  host->free_buf(&params);

  snprintf(result, sizeof result, "{\"old_abi\": true, \"host_struct_size\": %lu}", (unsigned long)host->struct_size);
  status = host->set_result(run, result, strlen(result));
  if (status != CRONHOST_OK) return fail_with_host_error(run, host, status);
  return CRONHOST_OK;
}

/* Seven fields: no description, which 1.1 appended. */
static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "old_abi", "1.0.0", NULL, run, NULL,
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
