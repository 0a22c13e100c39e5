/* versioned.c: a test plugin built twice (versioned_v1, versioned_v2) with another
 * PLUGIN_VERSION, for tests that replace a plugin file and expect the new version to run.
 * Its result is {"version": PLUGIN_VERSION}. */
#include <string.h>

#include <cronhost/plugin.h>

#ifndef PLUGIN_VERSION
#error "build with -DPLUGIN_VERSION=\"x.y.z\""
#endif

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  static const char line[] = "versioned " PLUGIN_VERSION;
  static const char result[] = "{\"version\": \"" PLUGIN_VERSION "\"}";
  int status;
  host->log(run, CRONHOST_LOG_INFO, line, strlen(line));
  status = host->set_result(run, result, strlen(result));
  if (status != CRONHOST_OK) {
    size_t len = 0;
    const char *error = host->last_error(run, &len);
    host->set_error(run, error, len);
  }
  return status;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "versioned", PLUGIN_VERSION, NULL, run, NULL,
    "Reports the version it was built as",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
