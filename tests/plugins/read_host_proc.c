/* read_host_proc.c: a hostile plugin that goes after the host's secrets through /proc. The
 * host is the runner's parent: it reads /proc/<ppid>/environ, cmdline and maps and prints
 * whatever it gets, then scans the host's memory through /proc/<ppid>/mem (the readable
 * regions maps names) for params.needle and prints what follows it. Everything is printed in
 * hex, as a thief would, so the host's redaction of known secrets does not hide it from a
 * test. Its result is each
 * open's errno (0: it worked) and what it found, for a test to check:
 *   {"environ": 13, "maps": 13, "mem": 13, "environ_bytes": 0, "mem_hits": 0, "ppid": N} */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cronhost/plugin.h>

/* Bounds the scan: the host's heap and stacks are well within this. */
#define MEM_SCAN_LIMIT (512L << 20)

static char buffer[1 << 20];

static void print_hex(const char *label, const char *bytes, size_t size) {
  size_t i;
  printf("%s: ", label);
  for (i = 0; i < size; ++i) printf("%02x", (unsigned char)bytes[i]);
  printf("\n");
}

/* Reads a whole small file; -errno when it cannot be opened, else the bytes read. */
static long read_small(const char *path, char *out, size_t size) {
  const int fd = open(path, O_RDONLY);
  long total = 0;
  ssize_t n;
  if (fd < 0) return -errno;
  while ((size_t)total < size - 1 && (n = read(fd, out + total, size - 1 - (size_t)total)) > 0) total += n;
  out[total] = '\0';
  close(fd);
  return total;
}

static int scan_memory(pid_t host, const char *maps, const char *needle, int *hits) {
  char path[64];
  const char *line = maps;
  long scanned = 0;
  const size_t needle_len = strlen(needle);
  int fd;
  snprintf(path, sizeof path, "/proc/%d/mem", (int)host);
  fd = open(path, O_RDONLY);
  if (fd < 0) return errno;
  while (line && *line && scanned < MEM_SCAN_LIMIT) {
    unsigned long start, end;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[0] == 'r') {
      unsigned long at;
      for (at = start; at < end && scanned < MEM_SCAN_LIMIT; at += sizeof buffer) {
        const size_t want = end - at < sizeof buffer ? end - at : sizeof buffer;
        const ssize_t n = pread(fd, buffer, want, (off_t)at);
        const char *hit = buffer;
        if (n <= 0) break;
        scanned += n;
        while ((hit = memmem(hit, (size_t)n - (size_t)(hit - buffer), needle, needle_len)) != NULL) {
          const size_t left = (size_t)n - (size_t)(hit - buffer);
          print_hex("found in the host's memory", hit, left < 48 ? left : 48);
          ++*hits;
          hit += needle_len;
        }
      }
    }
    line = strchr(line, '\n');
    if (line) ++line;
  }
  close(fd);
  return 0;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  static char environ_text[65536], maps[1 << 20];
  const pid_t parent = getppid();
  char path[64], needle[128] = "", result[256];
  cronhost_buf_t params = {0};
  const char *at;
  long environ_len, maps_len;
  int mem_hits = 0, mem_errno = -1;
  if (host->params(run, &params) == CRONHOST_OK && (at = strstr(params.data, "\"needle\":\"")) != NULL)
    sscanf(at + 10, "%127[^\"]", needle);
  host->free_buf(&params);

  snprintf(path, sizeof path, "/proc/%d/environ", (int)parent);
  environ_len = read_small(path, environ_text, sizeof environ_text);
  if (environ_len > 0) print_hex("the host's environment", environ_text, (size_t)environ_len);

  snprintf(path, sizeof path, "/proc/%d/maps", (int)parent);
  maps_len = read_small(path, maps, sizeof maps);
  if (maps_len > 0 && needle[0]) mem_errno = scan_memory(parent, maps, needle, &mem_hits);
  else {
    snprintf(path, sizeof path, "/proc/%d/mem", (int)parent);
    const int fd = open(path, O_RDONLY);
    mem_errno = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
  }
  fflush(stdout);
  const int n = snprintf(result, sizeof result,
                         "{\"environ\": %ld, \"maps\": %ld, \"mem\": %d, \"environ_bytes\": %ld, \"mem_hits\": %d, "
                         "\"ppid\": %d}",
                         environ_len < 0 ? -environ_len : 0, maps_len < 0 ? -maps_len : 0, mem_errno,
                         environ_len > 0 ? environ_len : 0, mem_hits, (int)parent);
  return host->set_result(run, result, (size_t)n);
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "read_host_proc", "1.0.0", NULL, run, NULL,
    "Reads the host's /proc/PID/environ and scans /proc/PID/mem for a secret",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
