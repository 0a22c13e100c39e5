/* no_entry.c: a shared object that is not a plugin: it exports a function, but under another
 * name than cronhost_plugin_v1, so loading it must fail with a clear message. */
#include <cronhost/plugin.h>

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "no_entry", "1.0.0", NULL, NULL, NULL, NULL,
};

/* A likely mistake: the entry point without its version suffix. */
CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin(void) { return &plugin; }
