/* thread_bomb.c: a hostile plugin that starts threads (small stacks, so memory_mb is not what
 * stops it) until pthread_create refuses or 2000 run; they sleep until the process ends. Its
 * result is how many started and the error that stopped it, for a test to check:
 *   {"started": 63, "error": 11} */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include <cronhost/plugin.h>

#define THREADS 2000

static void *sleeper(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  pthread_attr_t attr;
  int started, error = 0;
  char result[128];
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (started = 0; started < THREADS; ++started) {
    pthread_t thread;
    error = pthread_create(&thread, &attr, sleeper, NULL);
    if (error != 0) break;
  }
  const int n = snprintf(result, sizeof result, "{\"started\": %d, \"error\": %d}", started, error);
  return host->set_result(run, result, (size_t)n);
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "thread_bomb", "1.0.0", NULL, run, NULL,
    "Starts threads until refused",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
