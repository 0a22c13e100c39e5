/* json_text.h: building text, JSON text in particular, in C: a growable buffer with raw,
 * printf-style and escaped-JSON-string appends.
 *
 * An allocation failure makes the buffer "failed": later appends do nothing and
 * json_text_ok() says so, so a caller builds a whole document and checks once at the end.
 * One buffer belongs to one thread. */
#ifndef DISK_REPORT_JSON_TEXT_H
#define DISK_REPORT_JSON_TEXT_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define JSON_TEXT_PRINTF(format_index, first_arg) __attribute__((format(printf, format_index, first_arg)))
#else
#define JSON_TEXT_PRINTF(format_index, first_arg)
#endif

/* data is NUL-terminated whenever it is not NULL; size excludes the NUL. */
typedef struct json_text_t {
  char *data;
  size_t size;
  size_t capacity;
  int failed;
} json_text_t;

void json_text_init(json_text_t *text);
void json_text_free(json_text_t *text);
/* 1 when every append so far fit in memory. */
int json_text_ok(const json_text_t *text);
/* The text, or "" when empty or failed: for messages, where some text beats none. */
const char *json_text_str(const json_text_t *text);

void json_text_raw(json_text_t *text, const char *bytes, size_t len);
void json_text_printf(json_text_t *text, const char *format, ...) JSON_TEXT_PRINTF(2, 3);
void json_text_vprintf(json_text_t *text, const char *format, va_list args) JSON_TEXT_PRINTF(2, 0);

/* `bytes` as a JSON string, quotes included: ", \ and control characters are escaped, and
 * what is not valid UTF-8 (stray bytes, overlong forms, surrogates) becomes U+FFFD, because
 * the host refuses JSON that is not UTF-8. */
void json_text_string(json_text_t *text, const char *bytes, size_t len);

#endif /* DISK_REPORT_JSON_TEXT_H */
