/* alloc_forever.c: a test plugin that allocates and touches 16 MiB blocks until malloc fails or
 * the process is killed, for tests of the memory limit. When malloc returns NULL (an address
 * space limit) the run fails with "malloc failed after N MiB". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cronhost/plugin.h>

#define BLOCK_MIB 16
#define BLOCK_BYTES ((size_t)BLOCK_MIB << 20)

/* Each block starts with a pointer to the one before and the newest is here, so every block
 * stays reachable: the compiler cannot prove the memory unused and drop the malloc. */
static void *volatile newest_block;

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  unsigned long mib = 0;
  char message[64];
  for (;;) {
    void **block = malloc(BLOCK_BYTES);
    if (block == NULL) break;
    memset(block, 0xA5, BLOCK_BYTES); /* touch every page so it counts as resident */
    block[0] = newest_block;
    newest_block = block;
    mib += BLOCK_MIB;
  }
  snprintf(message, sizeof message, "malloc failed after %lu MiB", mib);
  host->set_error(run, message, strlen(message));
  return CRONHOST_EFAILED;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "alloc_forever", "1.0.0", NULL, run, NULL,
    "Allocates memory until it runs out",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
