/* json_scan.h: just enough JSON reading for a C plugin: the fields of an object (string,
 * number, bool) and the elements of an array. It reads text that need not end in a NUL and
 * validates what it walks over (strict RFC 8259 grammar, nesting up to 64 levels), so a
 * truncated or malformed document is an error, never an out-of-bounds read. It does not
 * check that strings are valid UTF-8: the host only hands out valid UTF-8.
 *
 * Allocation only for decoded strings, which the caller frees. No state: safe from any
 * thread. */
#ifndef DISK_REPORT_JSON_SCAN_H
#define DISK_REPORT_JSON_SCAN_H

#include <stddef.h>

/* A piece of JSON text: not NUL-terminated, owned by whoever owns the document. */
typedef struct json_span_t {
  const char *data;
  size_t size;
} json_span_t;

typedef enum json_scan_status_t {
  JSON_SCAN_OK = 0,
  JSON_SCAN_MISSING,    /* no such field; from json_array_next: no more elements */
  JSON_SCAN_WRONG_TYPE, /* valid JSON, but another kind of value than asked for */
  JSON_SCAN_MALFORMED,  /* not valid JSON (or nested deeper than 64) */
  JSON_SCAN_NO_MEMORY
} json_scan_status_t;

/* The raw text of field `key` (compared after unescaping) of the object `object`, which must
 * be one whole JSON object, optionally surrounded by whitespace. The whole object is
 * validated; when a key occurs twice the last one wins, as in the host's parser. */
json_scan_status_t json_field(json_span_t object, const char *key, json_span_t *value);

/* A field's value read as a type. A field holding null reads as JSON_SCAN_WRONG_TYPE. */
json_scan_status_t json_field_string(json_span_t object, const char *key, char **out, size_t *out_len);
json_scan_status_t json_field_number(json_span_t object, const char *key, double *out);
json_scan_status_t json_field_bool(json_span_t object, const char *key, int *out);

/* One JSON string value, unescaped into UTF-8: *out is malloc'd, NUL-terminated and freed by
 * the caller; *out_len excludes the NUL and counts any "\u0000" in the text, so check it with
 * memchr when the string becomes a C string. A lone surrogate escape becomes U+FFFD. */
json_scan_status_t json_string_value(json_span_t value, char **out, size_t *out_len);

/* One JSON number value, as the nearest double (exact for integers up to 2^53). */
json_scan_status_t json_number_value(json_span_t value, double *out);

/* Walks the elements of an array:
 *
 *   json_array_iter_t it;
 *   json_span_t element;
 *   json_scan_status_t status = json_array_begin(text, &it);
 *   while (status == JSON_SCAN_OK && (status = json_array_next(&it, &element)) == JSON_SCAN_OK) {...}
 *   if (status != JSON_SCAN_MISSING) { ... malformed ... }
 *
 * begin validates the whole array, so next fails only on a bug. */
typedef struct json_array_iter_t {
  const char *at;  /* the next element, or the closing bracket */
  const char *end; /* just past the closing bracket */
} json_array_iter_t;

json_scan_status_t json_array_begin(json_span_t array, json_array_iter_t *it);
json_scan_status_t json_array_next(json_array_iter_t *it, json_span_t *element);

#endif /* DISK_REPORT_JSON_SCAN_H */
