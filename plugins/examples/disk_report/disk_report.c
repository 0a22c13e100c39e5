/* disk_report.c: a native job plugin in C99 that adds up how much a folder holds and mails a
 * warning when the total passes a threshold.
 *
 *   params: {"folder": "/srv/uploads", "threshold_mb": 500, "mail_to": "ops@acme.test"}
 *   result: {"folder": "/srv/uploads", "bytes": 734003200, "files": 4210, "over": true}
 *   mail:   "Disk usage of /srv/uploads: 700 MiB", only when over
 *
 * It reaches the disk only through the host's files API, so the job's allow.files must grant
 * the folder (and allow.mail the recipient). Subfolders are listed down to MAX_DEPTH levels.
 * The host's listing follows symlinks: what is reached twice counts twice, and the depth limit
 * ends a symlink loop.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cronhost/plugin.h>

#include "json_scan.h"
#include "json_text.h"

/* Levels of subfolders listed below the folder: enough for upload and backup trees, and few
 * enough that a symlink pointing back up costs a bounded number of listings. */
#define MAX_DEPTH 8
#define MIB 1048576.0
/* How much of an unexpected listing entry an error message quotes. */
#define QUOTE_CHARS 200

typedef struct params_t {
  char *folder; /* malloc'd, no NUL inside */
  size_t folder_len;
  double threshold_mb;
  char *mail_to; /* malloc'd */
  size_t mail_to_len;
} params_t;

/* One run's handles and what the walk has counted so far. */
typedef struct report_t {
  cronhost_run_t *run;
  const cronhost_host_api_t *host;
  uint64_t bytes;
  uint64_t files;
  uint64_t folders_too_deep;  /* below MAX_DEPTH: not listed */
  uint64_t folders_unreadable; /* vanished or unreadable while walking */
} report_t;

static void log_line(const report_t *r, int level, const char *format, ...) JSON_TEXT_PRINTF(3, 4);
static int fail(const report_t *r, int status, const char *format, ...) JSON_TEXT_PRINTF(3, 4);
static int add_folder(report_t *r, const char *folder, size_t folder_len, int depth);

static void log_line(const report_t *r, int level, const char *format, ...) {
  json_text_t line;
  va_list args;
  json_text_init(&line);
  va_start(args, format);
  json_text_vprintf(&line, format, args);
  va_end(args);
  if (json_text_ok(&line)) r->host->log(r->run, level, line.data, line.size);
  json_text_free(&line);
}

/* Sets the run's error message and returns `status`, so a failure reads `return fail(...)`. */
static int fail(const report_t *r, int status, const char *format, ...) {
  json_text_t message;
  va_list args;
  json_text_init(&message);
  va_start(args, format);
  json_text_vprintf(&message, format, args);
  va_end(args);
  if (json_text_ok(&message)) {
    r->host->set_error(r->run, message.data, message.size);
  } else {
    r->host->set_error(r->run, "out of memory", 13);
  }
  json_text_free(&message);
  return status;
}

/* Why the last host call failed. Valid until the next host call: use it before free_buf. */
static const char *host_error(const report_t *r) {
  size_t len = 0;
  const char *text = r->host->last_error(r->run, &len);
  return text != NULL ? text : "";
}

/* params.key, present and of any type; fails the run when it is absent or params are no object. */
static int param_field(const report_t *r, json_span_t params, const char *key, const char *expected,
                       json_span_t *value) {
  switch (json_field(params, key, value)) {
    case JSON_SCAN_OK: return CRONHOST_OK;
    case JSON_SCAN_MISSING: return fail(r, CRONHOST_EINVAL, "params.%s must be %s", key, expected);
    case JSON_SCAN_WRONG_TYPE: return fail(r, CRONHOST_EINVAL, "params must be a JSON object");
    default: return fail(r, CRONHOST_EINVAL, "params are not valid JSON");
  }
}

/* params.key as a non-empty string that can be used as a C string. */
static int string_param(const report_t *r, json_span_t params, const char *key, char **out, size_t *out_len) {
  json_span_t value;
  int status = param_field(r, params, key, "a string", &value);
  if (status != CRONHOST_OK) return status;
  switch (json_string_value(value, out, out_len)) {
    case JSON_SCAN_OK: break;
    case JSON_SCAN_NO_MEMORY: return fail(r, CRONHOST_EFAILED, "out of memory reading params.%s", key);
    default: return fail(r, CRONHOST_EINVAL, "params.%s must be a string", key);
  }
  if (*out_len == 0) return fail(r, CRONHOST_EINVAL, "params.%s must not be empty", key);
  if (memchr(*out, '\0', *out_len) != NULL) return fail(r, CRONHOST_EINVAL, "params.%s must not contain \\u0000", key);
  return CRONHOST_OK;
}

static int read_params(const report_t *r, params_t *p) {
  cronhost_buf_t buf = {NULL, 0};
  json_span_t params, threshold;
  int status = r->host->params(r->run, &buf);
  if (status != CRONHOST_OK) {
    status = fail(r, status, "params: %s", host_error(r));
    r->host->free_buf(&buf);
    return status;
  }
  params.data = buf.data;
  params.size = buf.size;
  status = string_param(r, params, "folder", &p->folder, &p->folder_len);
  if (status == CRONHOST_OK) status = string_param(r, params, "mail_to", &p->mail_to, &p->mail_to_len);
  if (status == CRONHOST_OK) status = param_field(r, params, "threshold_mb", "a number of MiB", &threshold);
  if (status == CRONHOST_OK) {
    if (json_number_value(threshold, &p->threshold_mb) != JSON_SCAN_OK) {
      status = fail(r, CRONHOST_EINVAL, "params.threshold_mb must be a number of MiB");
    } else if (p->threshold_mb < 0) {
      status = fail(r, CRONHOST_EINVAL, "params.threshold_mb must not be negative");
    }
  }
  r->host->free_buf(&buf);
  return status;
}

/* Counts one listing entry: a file's size, or a subfolder's contents while depth allows. */
static int add_entry(report_t *r, json_span_t entry, int depth) {
  const int quote_len = entry.size > QUOTE_CHARS ? QUOTE_CHARS : (int)entry.size;
  char *path;
  size_t path_len;
  int is_dir, status;
  if (json_field_bool(entry, "dir", &is_dir) != JSON_SCAN_OK) {
    return fail(r, CRONHOST_EFAILED, "files.list gave an entry without a boolean \"dir\": %.*s", quote_len, entry.data);
  }
  if (!is_dir) {
    double size;
    /* 2^64: the largest size a uint64_t holds, and far above any real file. */
    if (json_field_number(entry, "size", &size) != JSON_SCAN_OK || !(size >= 0 && size < 18446744073709551616.0)) {
      return fail(r, CRONHOST_EFAILED, "files.list gave an entry without a valid \"size\": %.*s", quote_len, entry.data);
    }
    r->bytes += (uint64_t)size;
    r->files++;
    return CRONHOST_OK;
  }
  if (depth >= MAX_DEPTH) {
    r->folders_too_deep++;
    return CRONHOST_OK;
  }
  switch (json_field_string(entry, "path", &path, &path_len)) {
    case JSON_SCAN_OK: break;
    case JSON_SCAN_NO_MEMORY: return fail(r, CRONHOST_EFAILED, "out of memory reading a listing");
    default: return fail(r, CRONHOST_EFAILED, "files.list gave an entry without a string \"path\": %.*s", quote_len, entry.data);
  }
  status = add_folder(r, path, path_len, depth + 1);
  free(path);
  return status;
}

static int add_listing(report_t *r, const cronhost_buf_t *listing, int depth) {
  json_span_t text, entry;
  json_array_iter_t it;
  json_scan_status_t scan;
  text.data = listing->data;
  text.size = listing->size;
  scan = json_array_begin(text, &it);
  while (scan == JSON_SCAN_OK && (scan = json_array_next(&it, &entry)) == JSON_SCAN_OK) {
    const int status = add_entry(r, entry, depth);
    if (status != CRONHOST_OK) return status;
  }
  if (scan != JSON_SCAN_MISSING) return fail(r, CRONHOST_EFAILED, "files.list gave something other than a JSON array");
  return CRONHOST_OK;
}

/* Adds what `folder` holds; depth 0 is the folder the job names. */
static int add_folder(report_t *r, const char *folder, size_t folder_len, int depth) {
  cronhost_buf_t listing = {NULL, 0};
  json_text_t args;
  int status;
  if (r->host->should_stop(r->run)) {
    return fail(r, CRONHOST_ESTOP, "stopped at the deadline after counting %" PRIu64 " files", r->files);
  }
  json_text_init(&args);
  json_text_raw(&args, "{\"path\":", 8);
  json_text_string(&args, folder, folder_len);
  json_text_raw(&args, "}", 1);
  if (!json_text_ok(&args)) {
    json_text_free(&args);
    return fail(r, CRONHOST_EFAILED, "out of memory listing %s", folder);
  }
  status = r->host->files(r->run, "list", 4, args.data, args.size, &listing);
  json_text_free(&args);
  if (status == CRONHOST_OK) {
    status = add_listing(r, &listing, depth);
  } else if (depth > 0 && status == CRONHOST_EFAILED) {
    /* A subfolder removed or unreadable mid-walk: the rest of the total is still worth having. */
    log_line(r, CRONHOST_LOG_WARN, "not counted: %s", host_error(r));
    r->folders_unreadable++;
    status = CRONHOST_OK;
  } else {
    status = fail(r, status, "%s", host_error(r)); /* the host's message names the folder */
  }
  r->host->free_buf(&listing);
  return status;
}

static int publish_result(const report_t *r, const params_t *p, int over) {
  json_text_t result;
  int status;
  json_text_init(&result);
  json_text_raw(&result, "{\"folder\":", 10);
  json_text_string(&result, p->folder, p->folder_len);
  json_text_printf(&result, ",\"bytes\":%" PRIu64 ",\"files\":%" PRIu64 ",\"over\":%s}", r->bytes, r->files,
                   over ? "true" : "false");
  if (!json_text_ok(&result)) {
    json_text_free(&result);
    return fail(r, CRONHOST_EFAILED, "out of memory building the result");
  }
  status = r->host->set_result(r->run, result.data, result.size);
  json_text_free(&result);
  if (status != CRONHOST_OK) return fail(r, status, "set_result: %s", host_error(r));
  return CRONHOST_OK;
}

static int send_warning(const report_t *r, const params_t *p) {
  json_text_t subject, text, message;
  cronhost_buf_t outcome = {NULL, 0};
  const double mib = (double)r->bytes / MIB;
  int status;
  json_text_init(&subject);
  json_text_init(&text);
  json_text_init(&message);
  json_text_printf(&subject, "Disk usage of %s: %.0f MiB", p->folder, mib);
  json_text_printf(&text, "%s holds %.1f MiB (%" PRIu64 " bytes) in %" PRIu64 " files, above the threshold of %g MiB.\n",
                   p->folder, mib, r->bytes, r->files, p->threshold_mb);
  if (r->folders_too_deep > 0) {
    json_text_printf(&text, "%" PRIu64 " folders more than %d levels down were not counted.\n", r->folders_too_deep,
                     MAX_DEPTH);
  }
  if (r->folders_unreadable > 0) {
    json_text_printf(&text, "%" PRIu64 " folders could not be read (see the run's log).\n", r->folders_unreadable);
  }
  json_text_raw(&message, "{\"to\":[", 7);
  json_text_string(&message, p->mail_to, p->mail_to_len);
  json_text_raw(&message, "],\"subject\":", 12);
  json_text_string(&message, subject.data, subject.size);
  json_text_raw(&message, ",\"text\":", 8);
  json_text_string(&message, text.data, text.size);
  json_text_raw(&message, "}", 1);
  if (!json_text_ok(&subject) || !json_text_ok(&text) || !json_text_ok(&message)) {
    status = fail(r, CRONHOST_EFAILED, "out of memory building the mail");
  } else if ((status = r->host->mail_send(r->run, message.data, message.size, &outcome)) != CRONHOST_OK) {
    status = fail(r, status, "%s", host_error(r)); /* the host's message names the mail */
  } else {
    log_line(r, CRONHOST_LOG_INFO, "mailed %s: %s", p->mail_to, outcome.data != NULL ? outcome.data : "");
  }
  r->host->free_buf(&outcome);
  json_text_free(&subject);
  json_text_free(&text);
  json_text_free(&message);
  return status;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  report_t r = {NULL, NULL, 0, 0, 0, 0};
  params_t p = {NULL, 0, 0.0, NULL, 0};
  int over = 0;
  int status;
  r.run = run;
  r.host = host;
  status = read_params(&r, &p);
  if (status == CRONHOST_OK) status = add_folder(&r, p.folder, p.folder_len, 0);
  if (status == CRONHOST_OK) {
    over = (double)r.bytes > p.threshold_mb * MIB;
    log_line(&r, CRONHOST_LOG_INFO, "%s: %" PRIu64 " bytes in %" PRIu64 " files, %s the threshold of %g MiB", p.folder,
             r.bytes, r.files, over ? "over" : "within", p.threshold_mb);
    if (r.folders_too_deep > 0) {
      log_line(&r, CRONHOST_LOG_WARN, "%" PRIu64 " folders more than %d levels down were not counted", r.folders_too_deep,
               MAX_DEPTH);
    }
    status = publish_result(&r, &p, over);
  }
  if (status == CRONHOST_OK && over) status = send_warning(&r, &p);
  free(p.folder);
  free(p.mail_to);
  return status;
}

static const cronhost_plugin_t plugin = {
    CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "disk_report", "1.0.0", NULL, run, NULL,
    "Adds up the bytes in a folder and mails a warning when they pass a threshold",
};

CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
