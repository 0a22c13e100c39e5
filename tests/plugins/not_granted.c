/* not_granted.c: a test plugin that makes an HTTP request its job's allow.http does not grant;
 * the run fails with the call's status (EDENIED) and the host's reason. */
#include <string.h>

#include <cronhost/plugin.h>

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  static const char request[] = "{\"url\": \"http://127.0.0.1:9/x\"}";
  cronhost_buf_t response = {NULL, 0};
  const int status = host->http_request(run, request, strlen(request), &response);
  if (status != CRONHOST_OK) {
    size_t len = 0;
    const char *error = host->last_error(run, &len);
    host->set_error(run, error, len);
  }
  host->free_buf(&response);
  return status;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "not_granted", "1.0.0", NULL, run, NULL,
    "Makes an HTTP request it is not allowed",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
