/* write_outside.c: a test plugin that tries to write a file outside what the job may touch,
 * both directly and through the files API:
 *
 *   params: {"path_direct": "/etc/cronhost-test", "path_api": "/etc/cronhost-test"}
 *
 * Under the sandbox the direct fopen fails and files.write is denied, so the run fails with
 * EDENIED and "files.write: <the host's reason>". If the direct open works, the run fails with
 * "direct write succeeded" (the file is left behind as evidence). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cronhost/plugin.h>

#define PATH_CHARS 4096

static void set_error_text(cronhost_run_t *run, const cronhost_host_api_t *host, const char *text) {
  host->set_error(run, text, strlen(text));
}

/* The string value of "key" in `json`, crudely: the first occurrence of the quoted key, and a
 * value without escapes, which is all the tests' paths need. 1 when found and it fits. */
static int plain_string_field(const char *json, const char *key, char *out, size_t out_size) {
  char quoted_key[64];
  const char *p;
  size_t len = 0;
  snprintf(quoted_key, sizeof quoted_key, "\"%s\"", key);
  p = strstr(json, quoted_key);
  if (p == NULL) return 0;
  p += strlen(quoted_key);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return 0;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return 0;
  while (*p != '"') {
    if (*p == '\0' || *p == '\\' || len + 1 >= out_size) return 0;
    out[len++] = *p++;
  }
  out[len] = '\0';
  return 1;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  char path_direct[PATH_CHARS], path_api[PATH_CHARS], args[PATH_CHARS + 64], line[PATH_CHARS + 128];
  cronhost_buf_t buf = {NULL, 0};
  FILE *file;
  int found, status;
  size_t error_len = 0;

  status = host->params(run, &buf);
  found = status == CRONHOST_OK && buf.data != NULL && plain_string_field(buf.data, "path_direct", path_direct, sizeof path_direct) &&
          plain_string_field(buf.data, "path_api", path_api, sizeof path_api);
  host->free_buf(&buf);
  if (!found) {
    set_error_text(run, host, "params.path_direct and params.path_api must be plain strings");
    return CRONHOST_EINVAL;
  }

  file = fopen(path_direct, "w");
  if (file != NULL) {
    fclose(file);
    set_error_text(run, host, "direct write succeeded");
    return CRONHOST_EFAILED;
  }
  snprintf(line, sizeof line, "direct open of %s failed: %s", path_direct, strerror(errno));
  host->log(run, CRONHOST_LOG_INFO, line, strlen(line));

  snprintf(args, sizeof args, "{\"path\": \"%s\", \"content\": \"x\"}", path_api);
  status = host->files(run, "write", 5, args, strlen(args), &buf);
  if (status != CRONHOST_OK) {
    snprintf(line, sizeof line, "files.write: %s", host->last_error(run, &error_len));
    set_error_text(run, host, line);
  }
  host->free_buf(&buf);
  return status;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "write_outside", "1.0.0", NULL, run, NULL,
    "Tries to write outside its allowed folders",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
