/* json_text.c: the growable buffer and JSON string escaper behind json_text.h. */
#include "json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `extra` more bytes and the NUL; 0 (and the buffer failed) when there is none. */
static int reserve(json_text_t *text, size_t extra) {
  size_t needed;
  size_t capacity;
  char *grown;
  if (text->failed) return 0;
  if (extra > (size_t)-1 - text->size - 1) {
    text->failed = 1;
    return 0;
  }
  needed = text->size + extra + 1;
  if (needed <= text->capacity) return 1;
  capacity = text->capacity ? text->capacity : 64;
  while (capacity < needed) capacity = capacity > (size_t)-1 / 2 ? needed : capacity * 2;
  grown = realloc(text->data, capacity);
  if (grown == NULL) {
    text->failed = 1;
    return 0;
  }
  text->data = grown;
  text->capacity = capacity;
  return 1;
}

void json_text_init(json_text_t *text) {
  text->data = NULL;
  text->size = 0;
  text->capacity = 0;
  text->failed = 0;
}

void json_text_free(json_text_t *text) {
  free(text->data);
  json_text_init(text);
}

int json_text_ok(const json_text_t *text) { return !text->failed; }

const char *json_text_str(const json_text_t *text) { return text->failed || text->data == NULL ? "" : text->data; }

void json_text_raw(json_text_t *text, const char *bytes, size_t len) {
  if (!reserve(text, len)) return;
  if (len > 0) memcpy(text->data + text->size, bytes, len);
  text->size += len;
  text->data[text->size] = '\0';
}

void json_text_vprintf(json_text_t *text, const char *format, va_list args) {
  va_list measure;
  int len;
  va_copy(measure, args);
  len = vsnprintf(NULL, 0, format, measure);
  va_end(measure);
  if (len < 0) {
    text->failed = 1;
    return;
  }
  if (!reserve(text, (size_t)len)) return;
  vsnprintf(text->data + text->size, (size_t)len + 1, format, args);
  text->size += (size_t)len;
}

void json_text_printf(json_text_t *text, const char *format, ...) {
  va_list args;
  va_start(args, format);
  json_text_vprintf(text, format, args);
  va_end(args);
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when there is none. */
static size_t utf8_length(const unsigned char *s, size_t avail) {
  unsigned char low = 0x80, high = 0xBF; /* the allowed range of the second byte */
  size_t len, i;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF) {
    len = 2;
  } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    len = 3;
    if (s[0] == 0xE0) low = 0xA0;  /* overlong */
    if (s[0] == 0xED) high = 0x9F; /* surrogates */
  } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    len = 4;
    if (s[0] == 0xF0) low = 0x90;  /* overlong */
    if (s[0] == 0xF4) high = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (avail < len || s[1] < low || s[1] > high) return 0;
  for (i = 2; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  }
  return len;
}

void json_text_string(json_text_t *text, const char *bytes, size_t len) {
  const unsigned char *s = (const unsigned char *)bytes;
  size_t plain_start = 0; /* bytes copied as they are, in one append per run */
  size_t i = 0;
  json_text_raw(text, "\"", 1);
  while (i < len) {
    const unsigned char ch = s[i];
    const size_t seq = utf8_length(s + i, len - i);
    char escape[8];
    const char *replacement = NULL;
    size_t replacement_len = 0;
    if (seq == 0) {
      replacement = "\xEF\xBF\xBD"; /* U+FFFD */
      replacement_len = 3;
    } else if (ch == '"' || ch == '\\') {
      escape[0] = '\\';
      escape[1] = (char)ch;
      replacement = escape;
      replacement_len = 2;
    } else if (ch < 0x20) {
      switch (ch) {
        case '\b': replacement = "\\b"; break;
        case '\f': replacement = "\\f"; break;
        case '\n': replacement = "\\n"; break;
        case '\r': replacement = "\\r"; break;
        case '\t': replacement = "\\t"; break;
        default:
          snprintf(escape, sizeof escape, "\\u%04x", (unsigned)ch);
          replacement = escape;
      }
      replacement_len = strlen(replacement);
    }
    if (replacement == NULL) {
      i += seq;
      continue;
    }
    json_text_raw(text, bytes + plain_start, i - plain_start);
    json_text_raw(text, replacement, replacement_len);
    i += seq ? seq : 1;
    plain_start = i;
  }
  json_text_raw(text, bytes + plain_start, len - plain_start);
  json_text_raw(text, "\"", 1);
}
