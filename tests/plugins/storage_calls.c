/* storage_calls.c: reaches the host's object stores through the C vtable (ABI 1.3
 * host->storage): puts "from a plugin" as plugin/a.txt into store "backups", lists prefix
 * "plugin/", and sets the run's result to what it got:
 *   {"put": {"status": N, "out": <JSON or null>, "error": "..."}, "list": {...}}
 * A refused call is data in the result (status 2 = EDENIED), so the test reads the code and
 * the message; the run fails only when the host's table has no storage entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cronhost/plugin.h>

static const char kPut[] = "{\"store\":\"backups\",\"key\":\"plugin/a.txt\",\"content\":\"from a plugin\"}";
static const char kList[] = "{\"store\":\"backups\",\"prefix\":\"plugin/\"}";

/* `text` as a JSON string (quoted) at `out`, which holds 6 * len + 3 bytes; returns the end. */
static char *json_string(char *out, const char *text, size_t len) {
  *out++ = '"';
  for (size_t i = 0; i < len; ++i) {
    const unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      *out++ = '\\';
      *out++ = (char)c;
    } else if (c < 0x20) {
      out += sprintf(out, "\\u%04x", c);
    } else {
      *out++ = (char)c;
    }
  }
  *out++ = '"';
  return out;
}

/* One call, written as {"status": N, "out": ..., "error": "..."} into a malloc'ed string
 * (NULL when out of memory). */
static char *call(cronhost_run_t *run, const cronhost_host_api_t *host, const char *op, const char *args) {
  cronhost_buf_t out = {NULL, 0};
  const int status = host->storage(run, op, strlen(op), args, strlen(args), &out);
  size_t error_len = 0;
  const char *error = status == CRONHOST_OK ? "" : host->last_error(run, &error_len);
  char *text = malloc(64 + out.size + 6 * error_len);
  if (text) {
    char *end = text + sprintf(text, "{\"status\":%d,\"out\":", status);
    if (status == CRONHOST_OK && out.size) {
      memcpy(end, out.data, out.size);
      end += out.size;
    } else {
      end += sprintf(end, "null");
    }
    end += sprintf(end, ",\"error\":");
    end = json_string(end, error, error_len);
    strcpy(end, "}");
  }
  host->free_buf(&out);
  return text;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  if (!CRONHOST_HOST_HAS(host, storage)) {
    static const char kNoStorage[] = "storage_calls: the host's table has no storage entry (ABI below 1.3)";
    host->set_error(run, kNoStorage, sizeof kNoStorage - 1);
    return CRONHOST_EFAILED;
  }
  char *put = call(run, host, "put", kPut);
  char *list = call(run, host, "list", kList);
  int status = CRONHOST_EHOST;
  char *result = put && list ? malloc(strlen(put) + strlen(list) + 32) : NULL;
  if (result) {
    const int len = sprintf(result, "{\"put\":%s,\"list\":%s}", put, list);
    status = host->set_result(run, result, (size_t)len);
  }
  if (status != CRONHOST_OK) {
    size_t len = 0;
    const char *error = result ? host->last_error(run, &len) : "storage_calls: out of memory";
    host->set_error(run, error, result ? len : strlen(error));
  }
  free(result);
  free(list);
  free(put);
  return status;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "storage_calls", "1.0.0", NULL, run, NULL,
    "Puts plugin/a.txt into store backups and lists plugin/",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
