/* cronhost/plugin.h: the C ABI between cronhost and a native job plugin (a shared object).
 *
 * A plugin exports one function, cronhost_plugin_v1, returning a description of itself:
 *
 *   #include <cronhost/plugin.h>
 *
 *   static int run(cronhost_run_t *run, const cronhost_host_api_t *host) {
 *     host->log(run, CRONHOST_LOG_INFO, "hello", 5);
 *     return CRONHOST_OK;                     // or set_error(...) and return CRONHOST_EFAILED
 *   }
 *   static const cronhost_plugin_t plugin = {
 *     CRONHOST_ABI_VERSION, sizeof(cronhost_plugin_t), "hello", "1.0.0", NULL, run, NULL, "Says hello",
 *   };
 *   CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void) { return &plugin; }
 *
 * Versioning. Both structs start with abi_version (major << 16 | minor) and struct_size.
 * The host refuses a plugin of another major version. Within a major version fields are only
 * ever appended: the host reads only the plugin fields that fit in the plugin's struct_size,
 * and a plugin that may run on an older host checks CRONHOST_HOST_HAS(host, field) before
 * calling any field added after 1.0 (the oldest host with this major version).
 *   1.0  the first version
 *   1.1  cronhost_plugin_t.description; cronhost_host_api_t.time_left_ms
 *   1.2  cronhost_host_api_t.db_dump
 *   1.3  cronhost_host_api_t.storage
 *
 * Calls. Every host call takes the run handle given to run(), is made from the thread that
 * called run() (or threads it started, one call at a time), and returns a cronhost_status_t.
 * On anything but CRONHOST_OK, host->last_error() gives the reason (free_buf and
 * last_error itself do not replace it). Strings are UTF-8 and
 * passed as pointer plus length; they need no terminating NUL. Structured values are JSON
 * text with the same shape as the Lua API of the same name (see README, "Host APIs").
 *
 * Memory. Input strings stay the caller's. Output arrives in a cronhost_buf_t that the host
 * allocates: the plugin owns it and releases it with host->free_buf (also on failure, when it
 * is left empty). A string from last_error() is the host's, valid until the next call.
 *
 * Isolation. With `isolation: process` (the default) the plugin runs in a child process
 * under resource limits and a system-call filter, and these calls travel to the host over a
 * socket; with `isolation: inline` it runs in the host process (trusted plugins only). The
 * plugin's code is the same either way.
 */
#ifndef CRONHOST_PLUGIN_H
#define CRONHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRONHOST_ABI_MAJOR 1
#define CRONHOST_ABI_MINOR 3
#define CRONHOST_ABI_VERSION ((uint32_t)((CRONHOST_ABI_MAJOR << 16) | CRONHOST_ABI_MINOR))

/* The entry point's name, for dlsym. */
#define CRONHOST_ENTRY_POINT "cronhost_plugin_v1"

#if defined(__GNUC__)
#define CRONHOST_EXPORT __attribute__((visibility("default")))
#else
#define CRONHOST_EXPORT
#endif

/* Whether the host's table has `field`. It lacks it when the host is older than the minor
 * version that added the field. */
#define CRONHOST_HOST_HAS(host, field) \
  ((host)->struct_size >= offsetof(cronhost_host_api_t, field) + sizeof((host)->field))

typedef enum cronhost_status_t {
  CRONHOST_OK = 0,
  CRONHOST_EFAILED = 1, /* the outside world failed: HTTP transport, SMTP, SQL error, not found */
  CRONHOST_EDENIED = 2, /* the job's allow: list does not grant it */
  CRONHOST_EINVAL = 3,  /* a bad argument: malformed JSON, unknown field, wrong type */
  CRONHOST_ESTOP = 4,   /* the run is past its deadline or was cancelled: return soon */
  CRONHOST_EHOST = 5    /* the host could not serve the call (lost connection, out of memory) */
} cronhost_status_t;

typedef enum cronhost_log_level_t {
  CRONHOST_LOG_DEBUG = 0,
  CRONHOST_LOG_INFO = 1,
  CRONHOST_LOG_WARN = 2,
  CRONHOST_LOG_ERROR = 3
} cronhost_log_level_t;

/* One run, opaque to the plugin. */
typedef struct cronhost_run_t cronhost_run_t;

/* Bytes the host allocated for the plugin; release with host->free_buf. data is followed by a
 * NUL that size does not count, so text can be used as a C string. */
typedef struct cronhost_buf_t {
  char *data;
  size_t size;
} cronhost_buf_t;

typedef struct cronhost_host_api_t {
  uint32_t abi_version;
  uint32_t struct_size;

  /* A line into the run's output and the host log. Never fails. */
  void (*log)(cronhost_run_t *run, int level, const char *text, size_t len);
  /* The job's params as a JSON object. */
  int (*params)(cronhost_run_t *run, cronhost_buf_t *json_out);
  /* The job's key-value state: get gives the stored JSON value, or null when unset. */
  int (*state_get)(cronhost_run_t *run, const char *key, size_t key_len, cronhost_buf_t *json_out);
  int (*state_put)(cronhost_run_t *run, const char *key, size_t key_len, const char *json, size_t json_len);
  int (*state_delete)(cronhost_run_t *run, const char *key, size_t key_len);

  /* request: {"method","url","headers","body","json","timeout","max_bytes"}; response:
   * {"status","ok","headers","body","url"}. Any HTTP status is CRONHOST_OK with a response;
   * EFAILED when no response arrived (refused, DNS, TLS, timeout, too large). */
  int (*http_request)(cronhost_run_t *run, const char *request_json, size_t len, cronhost_buf_t *response_json);
  /* message: {"to","cc","bcc","subject","text","html","attachments"}; outcome: {"sent": true}
   * or {"queued": true}, with "message_id" ({"dry_run": true} in a dry run); EFAILED when the
   * relay refused it for good. */
  int (*mail_send)(cronhost_run_t *run, const char *message_json, size_t len, cronhost_buf_t *outcome_json);

  /* db: the databases the host config names and allow.db grants. params_json is a JSON array
   * bound to the ? placeholders (may be empty: len 0). query gives an array of row objects;
   * exec gives the number of rows changed; backup copies the database online to dest (inside
   * allow.files) and gives {"bytes","pages"}. */
  int (*db_query)(cronhost_run_t *run, const char *db, size_t db_len, const char *sql, size_t sql_len,
                  const char *params_json, size_t params_len, cronhost_buf_t *rows_json);
  int (*db_exec)(cronhost_run_t *run, const char *db, size_t db_len, const char *sql, size_t sql_len,
                 const char *params_json, size_t params_len, int64_t *changes);
  int (*db_backup)(cronhost_run_t *run, const char *db, size_t db_len, const char *dest, size_t dest_len,
                   cronhost_buf_t *info_json);

  /* files inside allow.files. op and args_json:
   *   "list"   {"path", "pattern"}            -> [{"name","path","size","mtime","dir"}]
   *   "stat"   {"path"}                       -> {"size","mtime","dir","path"}
   *   "read"   {"path", "max_bytes"}          -> the file's bytes (not JSON)
   *   "write"  {"path", "content"}            -> true
   *   "remove" {"path"}                       -> true
   *   "gzip"   {"path", "remove_source"}      -> {"path","bytes","source_bytes"}
   *   "prune"  {"path", "pattern", "older_than", "keep"} -> [removed paths] */
  int (*files)(cronhost_run_t *run, const char *op, size_t op_len, const char *args_json, size_t args_len,
               cronhost_buf_t *out);

  /* Container registry tags (JSON array), and the highest semantic version tag (plain text);
   * options_json {"prerelease","constraint"} may be empty. */
  int (*registry_tags)(cronhost_run_t *run, const char *image, size_t image_len, cronhost_buf_t *tags_json);
  int (*registry_latest)(cronhost_run_t *run, const char *image, size_t image_len, const char *options_json,
                         size_t options_len, cronhost_buf_t *version_out);

  /* approvals. op and args_json:
   *   "request" {"kind","key","title","payload","group","once"} -> the approval, with "created"
   *   "list"    {"kind","key","job","status","limit"}     -> [approval]
   *   "get"     {"id"}                                    -> approval or null
   *   "mark_executed" / "mark_failed" / "mark_superseded" {"id","notes"} -> the approval */
  int (*approvals)(cronhost_run_t *run, const char *op, size_t op_len, const char *args_json, size_t args_len,
                   cronhost_buf_t *out);

  /* The run's result, stored with the run: any JSON value. EINVAL when it is not JSON. */
  int (*set_result)(cronhost_run_t *run, const char *json, size_t len);
  /* The message the run fails with when run() returns other than CRONHOST_OK. */
  void (*set_error)(cronhost_run_t *run, const char *text, size_t len);
  /* Why the last call on this run failed (NUL-terminated); "" after a success. */
  const char *(*last_error)(cronhost_run_t *run, size_t *len);
  /* Nonzero once the run is past its deadline or cancelled: return from run() soon. */
  int (*should_stop)(cronhost_run_t *run);
  void (*free_buf)(cronhost_buf_t *buf);

  /* 1.1: milliseconds left before the run's deadline (0 when past it). */
  int64_t (*time_left_ms)(cronhost_run_t *run);

  /* 1.2: a backup of a database in the form its own tools restore, as the Lua db.dump:
   * PostgreSQL through pg_dump, MySQL/MariaDB through mariadb-dump, SQLite through the online
   * backup. options_json {"path","format","gzip"}: path absolute and inside allow.files,
   * format "plain" (the default) or "custom" (pg_dump's archive, PostgreSQL only), gzip
   * true to compress. info_json {"path","bytes","duration_ms","engine","tables"} ("tables"
   * absent for a custom archive; "dry_run": true in a dry run, which runs nothing).
   * EDENIED: db not in allow.db or path outside allow.files; EFAILED: the tool failed. */
  int (*db_dump)(cronhost_run_t *run, const char *db, size_t db_len, const char *options_json, size_t options_len,
                 cronhost_buf_t *info_json);

  /* 1.3: object stores the host config names (storage:), as the Lua storage.*: op is "put",
   * "get", "list", "delete" or "prune"; args_json {"store", ...} with the Lua call's fields:
   * put {"store","key","path" or "content","content_type","metadata"} -> {"key","bytes","parts"};
   * get {"store","key","path"} -> {"path","bytes"}; list {"store","prefix"} ->
   * [{"key","size","modified"}]; delete {"store","key"} -> true; prune {"store","prefix",
   * "older_than","keep"} -> the deleted keys. "dry_run": true when captured, not performed.
   * EDENIED: store not in allow.storage or path outside allow.files; EFAILED: the store said
   * no or could not be reached ("storage: NAME: <what the store said>"). */
  int (*storage)(cronhost_run_t *run, const char *op, size_t op_len, const char *args_json, size_t args_len,
                 cronhost_buf_t *out);
} cronhost_host_api_t;

typedef struct cronhost_plugin_t {
  uint32_t abi_version; /* CRONHOST_ABI_VERSION */
  uint32_t struct_size; /* sizeof(cronhost_plugin_t) */
  const char *name;     /* NUL-terminated, static */
  const char *version;  /* the plugin's own version, e.g. "1.2.0" */
  /* Called once after loading, before any run (NULL: nothing to do). Nonzero refuses the
   * load. In process isolation every run loads the plugin afresh. */
  int (*init)(void);
  /* One run. Return CRONHOST_OK for success; anything else fails the run with the message
   * given to host->set_error (or the code's name). Must not throw C++ exceptions. */
  int (*run)(cronhost_run_t *run, const cronhost_host_api_t *host);
  /* Called once before unloading, after the last run (NULL: nothing to do). */
  void (*shutdown)(void);
  /* 1.1: one line on what the plugin does (may be NULL). */
  const char *description;
} cronhost_plugin_t;

/* The one exported symbol; declared here so a wrong signature does not compile. */
typedef const cronhost_plugin_t *(*cronhost_entry_point_t)(void);
CRONHOST_EXPORT const cronhost_plugin_t *cronhost_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* CRONHOST_PLUGIN_H */
