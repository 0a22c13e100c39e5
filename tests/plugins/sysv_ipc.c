/* sysv_ipc.c: a hostile plugin that makes System V IPC objects, which outlive the process
 * that made them: 4 shared memory segments of 64 MiB (touched, so they take real memory), a
 * message queue and a semaphore set, none removed. Its result is each call's errno (0: it
 * worked), how many segments it made and its pid (the segments' creator in
 * /proc/sysvipc/shm), for a test to check:
 *   {"shmget": 1, "segments": 0, "msgget": 1, "semget": 1, "pid": N} */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cronhost/plugin.h>

#define SEGMENTS 4
#define SEGMENT_BYTES ((size_t)64 << 20)

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  int shm_errno = 0, segments = 0, i;
  char result[256];
  for (i = 0; i < SEGMENTS; ++i) {
    const int id = shmget(IPC_PRIVATE, SEGMENT_BYTES, IPC_CREAT | 0600);
    void *at;
    if (id < 0) {
      shm_errno = errno;
      break;
    }
    ++segments;
    at = shmat(id, NULL, 0);
    if (at != (void *)-1) {
      memset(at, 1, SEGMENT_BYTES);
      shmdt(at);
    }
  }
  const int msg_errno = msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0 ? errno : 0;
  const int sem_errno = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) < 0 ? errno : 0;
  const int n = snprintf(result, sizeof result,
                         "{\"shmget\": %d, \"segments\": %d, \"msgget\": %d, \"semget\": %d, \"pid\": %d}", shm_errno,
                         segments, msg_errno, sem_errno, (int)getpid());
  return host->set_result(run, result, (size_t)n);
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "sysv_ipc", "1.0.0", NULL, run, NULL,
    "Makes System V shared memory, a message queue and semaphores, and leaves them",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
