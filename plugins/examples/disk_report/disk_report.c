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
 *
 * JSON, which every host call takes and gives, is read and written with Jansson (Debian's
 * libjansson-dev; `pkg-config jansson`). The pattern to copy: build a json_t, dump it to
 * text for the call, parse what comes back, and decref everything on every path. Every
 * failure goes through fail(), which sets the run's error and returns the status, so that a
 * failure reads `return fail(...)` and the run's history says what went wrong and where.
 */
/* strdup is POSIX, not C99: ask for it (the plugin is built with -std=c99, no GNU extensions). */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cronhost/plugin.h>

/* Levels of subfolders listed below the folder: enough for upload and backup trees, and few
 * enough that a symlink pointing back up costs a bounded number of listings. */
#define MAX_DEPTH 8
#define MIB 1048576.0
/* How much of an unexpected listing entry an error message quotes. */
#define QUOTE_CHARS 200

#if defined(__GNUC__)
#define PRINTF_LIKE(format_index, first_arg) __attribute__((format(printf, format_index, first_arg)))
#else
#define PRINTF_LIKE(format_index, first_arg)
#endif

/* The job's params, checked. Both strings are malloc'd, NUL-terminated and hold no other NUL. */
typedef struct params_t {
  char *folder;
  double threshold_mb;
  char *mail_to;
} params_t;

/* One run's handles and what the walk has counted so far. */
typedef struct report_t {
  cronhost_run_t *run;
  const cronhost_host_api_t *host;
  uint64_t bytes;
  uint64_t files;
  uint64_t folders_too_deep;   /* below MAX_DEPTH: not listed */
  uint64_t folders_unreadable; /* vanished or unreadable while walking */
} report_t;

static int add_folder(report_t *r, const char *folder, int depth);

/* printf into a malloc'd string (NULL when out of memory): the host takes text plus length,
 * and paths make messages of any length, so no fixed buffer cuts them short. */
static char *printf_alloc_v(const char *format, va_list args) PRINTF_LIKE(1, 0);
static char *printf_alloc_v(const char *format, va_list args) {
  va_list again;
  char *text = NULL;
  int len;
  va_copy(again, args); /* vsnprintf consumes a va_list: the second pass needs its own */
  len = vsnprintf(NULL, 0, format, args);
  if (len >= 0 && (text = malloc((size_t)len + 1)) != NULL) vsnprintf(text, (size_t)len + 1, format, again);
  va_end(again);
  return text;
}

static char *printf_alloc(const char *format, ...) PRINTF_LIKE(1, 2);
static char *printf_alloc(const char *format, ...) {
  va_list args;
  char *text;
  va_start(args, format);
  text = printf_alloc_v(format, args);
  va_end(args);
  return text;
}

static void log_line(const report_t *r, int level, const char *format, ...) PRINTF_LIKE(3, 4);
static void log_line(const report_t *r, int level, const char *format, ...) {
  va_list args;
  char *line;
  va_start(args, format);
  line = printf_alloc_v(format, args);
  va_end(args);
  if (line != NULL) r->host->log(r->run, level, line, strlen(line));
  free(line);
}

/* Sets the run's error message and returns `status`, so a failure reads `return fail(...)`. */
static int fail(const report_t *r, int status, const char *format, ...) PRINTF_LIKE(3, 4);
static int fail(const report_t *r, int status, const char *format, ...) {
  va_list args;
  char *message;
  va_start(args, format);
  message = printf_alloc_v(format, args);
  va_end(args);
  if (message != NULL) {
    r->host->set_error(r->run, message, strlen(message));
  } else {
    r->host->set_error(r->run, "out of memory", 13);
  }
  free(message);
  return status;
}

/* Why the last host call failed. Valid until the next host call: use it before free_buf. */
static const char *host_error(const report_t *r) {
  size_t len = 0;
  const char *text = r->host->last_error(r->run, &len);
  return text != NULL ? text : "";
}

/* `value` as compact JSON text (malloc'd, free with free()), then drops the caller's
 * reference to it; NULL when `value` is NULL (a failed json_pack) or out of memory. Taking
 * the reference lets a call site read `dump_and_release(json_pack(...))`. */
static char *dump_and_release(json_t *value) {
  char *text = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
  json_decref(value);
  return text;
}

/* The start of `value` as ASCII JSON, for quoting in an error message. ASCII so that cutting
 * it at QUOTE_CHARS cannot split a UTF-8 character (the host refuses text that is not UTF-8). */
static char *quote(const json_t *value) {
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
  if (text != NULL && strlen(text) > QUOTE_CHARS) text[QUOTE_CHARS] = '\0';
  return text;
}

/* params.key as a non-empty string that can be used as a C string, copied into *out. */
static int string_param(const report_t *r, const json_t *params, const char *key, char **out) {
  const json_t *value = json_object_get(params, key);
  if (!json_is_string(value)) return fail(r, CRONHOST_EINVAL, "params.%s must be a string", key);
  if (json_string_length(value) == 0) return fail(r, CRONHOST_EINVAL, "params.%s must not be empty", key);
  /* JSON allows "\u0000" inside a string (parsed with JSON_ALLOW_NUL below); a C string ends
   * there, so a path would silently become a shorter one. */
  if (strlen(json_string_value(value)) != json_string_length(value)) {
    return fail(r, CRONHOST_EINVAL, "params.%s must not contain \\u0000", key);
  }
  *out = strdup(json_string_value(value));
  if (*out == NULL) return fail(r, CRONHOST_EFAILED, "out of memory reading params.%s", key);
  return CRONHOST_OK;
}

static int check_params(const report_t *r, const json_t *params, params_t *p) {
  const json_t *threshold;
  int status;
  if (!json_is_object(params)) return fail(r, CRONHOST_EINVAL, "params must be a JSON object");
  if ((status = string_param(r, params, "folder", &p->folder)) != CRONHOST_OK) return status;
  if ((status = string_param(r, params, "mail_to", &p->mail_to)) != CRONHOST_OK) return status;
  threshold = json_object_get(params, "threshold_mb");
  if (!json_is_number(threshold)) return fail(r, CRONHOST_EINVAL, "params.threshold_mb must be a number of MiB");
  p->threshold_mb = json_number_value(threshold);
  if (p->threshold_mb < 0) return fail(r, CRONHOST_EINVAL, "params.threshold_mb must not be negative");
  return CRONHOST_OK;
}

static int read_params(const report_t *r, params_t *p) {
  cronhost_buf_t buf = {NULL, 0};
  json_t *params;
  json_error_t error;
  int status = r->host->params(r->run, &buf);
  if (status != CRONHOST_OK) {
    status = fail(r, status, "params: %s", host_error(r));
    r->host->free_buf(&buf);
    return status;
  }
  /* JSON_DECODE_INT_AS_REAL: threshold_mb may be any JSON number, and a whole number too big
   * for a 64-bit integer would otherwise fail the parse. JSON_ALLOW_NUL: see string_param. */
  params = json_loadb(buf.data, buf.size, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
  r->host->free_buf(&buf);
  if (params == NULL) return fail(r, CRONHOST_EINVAL, "params are not valid JSON: %s", error.text);
  status = check_params(r, params, p);
  json_decref(params);
  return status;
}

/* Fails the run over a listing entry that is not what files.list promises. */
static int bad_entry(const report_t *r, const json_t *entry, const char *what) {
  char *quoted = quote(entry);
  const int status = fail(r, CRONHOST_EFAILED, "files.list gave an entry without %s: %s", what,
                          quoted != NULL ? quoted : "(out of memory)");
  free(quoted);
  return status;
}

/* Counts one listing entry: a file's size, or a subfolder's contents while depth allows. */
static int add_entry(report_t *r, const json_t *entry, int depth) {
  const json_t *dir = json_object_get(entry, "dir");
  const json_t *path;
  if (!json_is_boolean(dir)) return bad_entry(r, entry, "a boolean \"dir\"");
  if (json_is_false(dir)) {
    const json_t *size = json_object_get(entry, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0) return bad_entry(r, entry, "a valid \"size\"");
    r->bytes += (uint64_t)json_integer_value(size);
    r->files++;
    return CRONHOST_OK;
  }
  if (depth >= MAX_DEPTH) {
    r->folders_too_deep++;
    return CRONHOST_OK;
  }
  path = json_object_get(entry, "path");
  if (!json_is_string(path)) return bad_entry(r, entry, "a string \"path\"");
  /* json_string_value stays valid while the listing (the entry's parent) is alive: the
   * caller keeps it until this returns. */
  return add_folder(r, json_string_value(path), depth + 1);
}

static int add_listing(report_t *r, const cronhost_buf_t *listing, int depth) {
  json_error_t error;
  json_t *entries = json_loadb(listing->data, listing->size, 0, &error);
  const json_t *entry;
  size_t i;
  int status = CRONHOST_OK;
  if (!json_is_array(entries)) {
    json_decref(entries);
    return fail(r, CRONHOST_EFAILED, "files.list gave something other than a JSON array");
  }
  json_array_foreach(entries, i, entry) {
    if ((status = add_entry(r, entry, depth)) != CRONHOST_OK) break;
  }
  json_decref(entries);
  return status;
}

/* Adds what `folder` holds; depth 0 is the folder the job names. */
static int add_folder(report_t *r, const char *folder, int depth) {
  cronhost_buf_t listing = {NULL, 0};
  char *args;
  int status;
  if (r->host->should_stop(r->run)) {
    return fail(r, CRONHOST_ESTOP, "stopped at the deadline after counting %" PRIu64 " files", r->files);
  }
  /* json_pack escapes the path; "s" also checks that it is valid UTF-8. */
  args = dump_and_release(json_pack("{s:s}", "path", folder));
  if (args == NULL) return fail(r, CRONHOST_EFAILED, "cannot build the files.list arguments for %s", folder);
  status = r->host->files(r->run, "list", 4, args, strlen(args), &listing);
  free(args);
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
  /* "I" is a json_int_t (64-bit): a total above 8 EiB would not fit, and no disk holds one. */
  char *result = dump_and_release(json_pack("{s:s, s:I, s:I, s:b}", "folder", p->folder, "bytes",
                                            (json_int_t)r->bytes, "files", (json_int_t)r->files, "over", over));
  int status;
  if (result == NULL) return fail(r, CRONHOST_EFAILED, "cannot build the result");
  status = r->host->set_result(r->run, result, strlen(result));
  free(result);
  if (status != CRONHOST_OK) return fail(r, status, "set_result: %s", host_error(r));
  return CRONHOST_OK;
}

/* The warning's body: the total, then what the total leaves out, if anything. */
static char *warning_text(const report_t *r, const params_t *p) {
  char *too_deep = r->folders_too_deep == 0
                       ? strdup("")
                       : printf_alloc("%" PRIu64 " folders more than %d levels down were not counted.\n",
                                r->folders_too_deep, MAX_DEPTH);
  char *unreadable = r->folders_unreadable == 0
                         ? strdup("")
                         : printf_alloc("%" PRIu64 " folders could not be read (see the run's log).\n", r->folders_unreadable);
  char *text = NULL;
  if (too_deep != NULL && unreadable != NULL) {
    text = printf_alloc("%s holds %.1f MiB (%" PRIu64 " bytes) in %" PRIu64 " files, above the threshold of %g MiB.\n%s%s",
                  p->folder, (double)r->bytes / MIB, r->bytes, r->files, p->threshold_mb, too_deep, unreadable);
  }
  free(too_deep);
  free(unreadable);
  return text;
}

static int send_warning(const report_t *r, const params_t *p) {
  cronhost_buf_t outcome = {NULL, 0};
  char *subject = printf_alloc("Disk usage of %s: %.0f MiB", p->folder, (double)r->bytes / MIB);
  char *text = warning_text(r, p);
  char *message = NULL;
  int status;
  if (subject != NULL && text != NULL) {
    message = dump_and_release(json_pack("{s:[s], s:s, s:s}", "to", p->mail_to, "subject", subject, "text", text));
  }
  if (message == NULL) {
    status = fail(r, CRONHOST_EFAILED, "cannot build the mail to %s", p->mail_to);
  } else if ((status = r->host->mail_send(r->run, message, strlen(message), &outcome)) != CRONHOST_OK) {
    status = fail(r, status, "%s", host_error(r)); /* the host's message names the mail */
  } else {
    log_line(r, CRONHOST_LOG_INFO, "mailed %s: %s", p->mail_to, outcome.data != NULL ? outcome.data : "");
  }
  r->host->free_buf(&outcome);
  free(subject);
  free(text);
  free(message);
  return status;
}

static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
  report_t r = {NULL, NULL, 0, 0, 0, 0};
  params_t p = {NULL, 0.0, NULL};
  int over = 0;
  int status;
  r.run = run;
  r.host = host;
  status = read_params(&r, &p);
  if (status == CRONHOST_OK) status = add_folder(&r, p.folder, 0);
  if (status == CRONHOST_OK) {
    over = (double)r.bytes > p.threshold_mb * MIB;
    log_line(&r, CRONHOST_LOG_INFO, "%s: %" PRIu64 " bytes in %" PRIu64 " files, %s the threshold of %g MiB", p.folder,
             r.bytes, r.files, over ? "over" : "within", p.threshold_mb);
    if (r.folders_too_deep > 0) {
      log_line(&r, CRONHOST_LOG_WARN, "%" PRIu64 " folders more than %d levels down were not counted",
               r.folders_too_deep, MAX_DEPTH);
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
