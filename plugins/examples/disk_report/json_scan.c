/* json_scan.c: the validating scanner behind json_scan.h. Everything is built on skip_value,
 * which steps over one value and checks its grammar; readers then decode the one value the
 * caller asked for. */
#include "json_scan.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* Far deeper than anything the host sends, and shallow enough that a hostile document cannot
 * exhaust the stack of the thread that runs the plugin (one small frame per level). */
#define MAX_DEPTH 64

/* Where the scan is, and where the text ends. */
typedef struct cursor_t {
  const char *at;
  const char *end;
} cursor_t;

static json_scan_status_t skip_value(cursor_t *c, int depth);

static void skip_space(cursor_t *c) {
  while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r')) c->at++;
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* The four hex digits at p, already validated. */
static unsigned long read_hex4(const char *p) {
  unsigned long code = 0;
  int i;
  for (i = 0; i < 4; i++) code = code << 4 | (unsigned long)hex_value(p[i]);
  return code;
}

static json_scan_status_t skip_string(cursor_t *c) {
  c->at++; /* the opening quote */
  while (c->at < c->end) {
    const unsigned char ch = (unsigned char)*c->at++;
    if (ch == '"') return JSON_SCAN_OK;
    if (ch < 0x20) return JSON_SCAN_MALFORMED; /* control characters must be escaped */
    if (ch != '\\') continue;
    if (c->at >= c->end) return JSON_SCAN_MALFORMED;
    switch (*c->at++) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        break;
      case 'u':
        if (c->end - c->at < 4) return JSON_SCAN_MALFORMED;
        if (hex_value(c->at[0]) < 0 || hex_value(c->at[1]) < 0 || hex_value(c->at[2]) < 0 || hex_value(c->at[3]) < 0) {
          return JSON_SCAN_MALFORMED;
        }
        c->at += 4;
        break;
      default:
        return JSON_SCAN_MALFORMED;
    }
  }
  return JSON_SCAN_MALFORMED; /* no closing quote */
}

static json_scan_status_t skip_digits(cursor_t *c) {
  if (c->at >= c->end || !is_digit(*c->at)) return JSON_SCAN_MALFORMED;
  while (c->at < c->end && is_digit(*c->at)) c->at++;
  return JSON_SCAN_OK;
}

/* -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
static json_scan_status_t skip_number(cursor_t *c) {
  if (c->at < c->end && *c->at == '-') c->at++;
  if (c->at < c->end && *c->at == '0') {
    c->at++; /* no leading zeros */
  } else if (skip_digits(c) != JSON_SCAN_OK) {
    return JSON_SCAN_MALFORMED;
  }
  if (c->at < c->end && *c->at == '.') {
    c->at++;
    if (skip_digits(c) != JSON_SCAN_OK) return JSON_SCAN_MALFORMED;
  }
  if (c->at < c->end && (*c->at == 'e' || *c->at == 'E')) {
    c->at++;
    if (c->at < c->end && (*c->at == '+' || *c->at == '-')) c->at++;
    if (skip_digits(c) != JSON_SCAN_OK) return JSON_SCAN_MALFORMED;
  }
  return JSON_SCAN_OK;
}

static json_scan_status_t skip_word(cursor_t *c, const char *word) {
  const size_t len = strlen(word);
  if ((size_t)(c->end - c->at) < len || memcmp(c->at, word, len) != 0) return JSON_SCAN_MALFORMED;
  c->at += len;
  return JSON_SCAN_OK;
}

static json_scan_status_t skip_array(cursor_t *c, int depth) {
  c->at++; /* [ */
  skip_space(c);
  if (c->at < c->end && *c->at == ']') {
    c->at++;
    return JSON_SCAN_OK;
  }
  for (;;) {
    const json_scan_status_t status = skip_value(c, depth + 1);
    if (status != JSON_SCAN_OK) return status;
    skip_space(c);
    if (c->at >= c->end) return JSON_SCAN_MALFORMED;
    if (*c->at == ']') {
      c->at++;
      return JSON_SCAN_OK;
    }
    if (*c->at++ != ',') return JSON_SCAN_MALFORMED;
  }
}

/* One character of a validated string body at *p, as UTF-8 in out; returns its byte count.
 * body_end is the closing quote. */
static size_t decode_char(const char **p, const char *body_end, unsigned char out[4]) {
  const char *s = *p;
  unsigned long code;
  if (*s != '\\') {
    out[0] = (unsigned char)*s;
    *p = s + 1;
    return 1;
  }
  *p = s + 2;
  switch (s[1]) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = (unsigned char)s[1]; return 1; /* " \ / */
  }
  code = read_hex4(s + 2);
  *p = s + 6;
  if (code >= 0xD800 && code <= 0xDBFF) {
    /* A high surrogate counts only with a low one escaped right after it. */
    const char *next = *p;
    unsigned long low = 0;
    if (body_end - next >= 6 && next[0] == '\\' && next[1] == 'u') low = read_hex4(next + 2);
    if (low >= 0xDC00 && low <= 0xDFFF) {
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      *p = next + 6;
    } else {
      code = 0xFFFD;
    }
  } else if (code >= 0xDC00 && code <= 0xDFFF) {
    code = 0xFFFD;
  }
  if (code < 0x80) {
    out[0] = (unsigned char)code;
    return 1;
  }
  if (code < 0x800) {
    out[0] = (unsigned char)(0xC0 | code >> 6);
    out[1] = (unsigned char)(0x80 | (code & 0x3F));
    return 2;
  }
  if (code < 0x10000) {
    out[0] = (unsigned char)(0xE0 | code >> 12);
    out[1] = (unsigned char)(0x80 | (code >> 6 & 0x3F));
    out[2] = (unsigned char)(0x80 | (code & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | code >> 18);
  out[1] = (unsigned char)(0x80 | (code >> 12 & 0x3F));
  out[2] = (unsigned char)(0x80 | (code >> 6 & 0x3F));
  out[3] = (unsigned char)(0x80 | (code & 0x3F));
  return 4;
}

/* Whether the validated string token `name` (quotes included) unescapes to `key`. */
static int string_equals(json_span_t name, const char *key) {
  const char *p = name.data + 1;
  const char *body_end = name.data + name.size - 1;
  unsigned char ch[4];
  while (p < body_end) {
    const size_t len = decode_char(&p, body_end, ch);
    size_t i;
    for (i = 0; i < len; i++) {
      if (*key == '\0' || (unsigned char)*key != ch[i]) return 0;
      key++;
    }
  }
  return *key == '\0';
}

/* Steps over an object; with a key, also notes where the last field of that name is. */
static json_scan_status_t scan_object(cursor_t *c, int depth, const char *key, json_span_t *found, int *was_found) {
  c->at++; /* { */
  skip_space(c);
  if (c->at < c->end && *c->at == '}') {
    c->at++;
    return JSON_SCAN_OK;
  }
  for (;;) {
    json_span_t name;
    const char *value_start;
    json_scan_status_t status;
    skip_space(c);
    if (c->at >= c->end || *c->at != '"') return JSON_SCAN_MALFORMED;
    name.data = c->at;
    if ((status = skip_string(c)) != JSON_SCAN_OK) return status;
    name.size = (size_t)(c->at - name.data);
    skip_space(c);
    if (c->at >= c->end || *c->at++ != ':') return JSON_SCAN_MALFORMED;
    skip_space(c);
    value_start = c->at;
    if ((status = skip_value(c, depth + 1)) != JSON_SCAN_OK) return status;
    if (key != NULL && string_equals(name, key)) {
      found->data = value_start;
      found->size = (size_t)(c->at - value_start);
      *was_found = 1;
    }
    skip_space(c);
    if (c->at >= c->end) return JSON_SCAN_MALFORMED;
    if (*c->at == '}') {
      c->at++;
      return JSON_SCAN_OK;
    }
    if (*c->at++ != ',') return JSON_SCAN_MALFORMED;
  }
}

static json_scan_status_t skip_value(cursor_t *c, int depth) {
  skip_space(c);
  if (depth > MAX_DEPTH || c->at >= c->end) return JSON_SCAN_MALFORMED;
  switch (*c->at) {
    case '{': return scan_object(c, depth, NULL, NULL, NULL);
    case '[': return skip_array(c, depth);
    case '"': return skip_string(c);
    case 't': return skip_word(c, "true");
    case 'f': return skip_word(c, "false");
    case 'n': return skip_word(c, "null");
    default: return skip_number(c);
  }
}

/* The one value that `text` holds, surrounding whitespace trimmed, validated. */
static json_scan_status_t whole_value(json_span_t text, cursor_t *value) {
  cursor_t c;
  json_scan_status_t status;
  if (text.data == NULL) return JSON_SCAN_MALFORMED;
  c.at = text.data;
  c.end = text.data + text.size;
  skip_space(&c);
  value->at = c.at;
  if ((status = skip_value(&c, 0)) != JSON_SCAN_OK) return status;
  value->end = c.at;
  skip_space(&c);
  return c.at == c.end ? JSON_SCAN_OK : JSON_SCAN_MALFORMED;
}

json_scan_status_t json_field(json_span_t object, const char *key, json_span_t *value) {
  cursor_t c;
  int was_found = 0;
  json_scan_status_t status = whole_value(object, &c);
  if (status != JSON_SCAN_OK) return status;
  if (*c.at != '{') return JSON_SCAN_WRONG_TYPE;
  if ((status = scan_object(&c, 0, key, value, &was_found)) != JSON_SCAN_OK) return status;
  return was_found ? JSON_SCAN_OK : JSON_SCAN_MISSING;
}

json_scan_status_t json_string_value(json_span_t value, char **out, size_t *out_len) {
  cursor_t c;
  const char *p;
  const char *body_end;
  char *text;
  size_t len = 0;
  json_scan_status_t status = whole_value(value, &c);
  if (status != JSON_SCAN_OK) return status;
  if (*c.at != '"') return JSON_SCAN_WRONG_TYPE;
  p = c.at + 1;
  body_end = c.end - 1;
  /* Unescaping never lengthens: "\uXXXX" is 6 bytes for at most 3, a surrogate pair 12 for 4. */
  text = malloc((size_t)(body_end - p) + 1);
  if (text == NULL) return JSON_SCAN_NO_MEMORY;
  while (p < body_end) len += decode_char(&p, body_end, (unsigned char *)text + len);
  text[len] = '\0';
  *out = text;
  *out_len = len;
  return JSON_SCAN_OK;
}

json_scan_status_t json_number_value(json_span_t value, double *out) {
  /* strtod reads the locale's decimal point, which a plugin in the same process may have
   * changed from ".", so the copy gets that one instead. */
  const char *point = localeconv()->decimal_point;
  const size_t point_len = (point != NULL && *point != '\0') ? strlen(point) : 0;
  char local[64];
  char *copy = local;
  size_t len = 0;
  const char *p;
  cursor_t c;
  json_scan_status_t status = whole_value(value, &c);
  if (status != JSON_SCAN_OK) return status;
  if (*c.at != '-' && !is_digit(*c.at)) return JSON_SCAN_WRONG_TYPE;
  if ((size_t)(c.end - c.at) + point_len + 1 > sizeof local) {
    copy = malloc((size_t)(c.end - c.at) + point_len + 1);
    if (copy == NULL) return JSON_SCAN_NO_MEMORY;
  }
  for (p = c.at; p < c.end; p++) {
    if (*p == '.' && point_len > 0) {
      memcpy(copy + len, point, point_len);
      len += point_len;
    } else {
      copy[len++] = *p;
    }
  }
  copy[len] = '\0';
  *out = strtod(copy, NULL); /* out of range gives +-HUGE_VAL or 0, as JSON leaves open */
  if (copy != local) free(copy);
  return JSON_SCAN_OK;
}

json_scan_status_t json_field_string(json_span_t object, const char *key, char **out, size_t *out_len) {
  json_span_t value;
  const json_scan_status_t status = json_field(object, key, &value);
  return status == JSON_SCAN_OK ? json_string_value(value, out, out_len) : status;
}

json_scan_status_t json_field_number(json_span_t object, const char *key, double *out) {
  json_span_t value;
  const json_scan_status_t status = json_field(object, key, &value);
  return status == JSON_SCAN_OK ? json_number_value(value, out) : status;
}

json_scan_status_t json_field_bool(json_span_t object, const char *key, int *out) {
  json_span_t value;
  const json_scan_status_t status = json_field(object, key, &value);
  if (status != JSON_SCAN_OK) return status;
  if (value.data[0] == 't') {
    *out = 1;
  } else if (value.data[0] == 'f') {
    *out = 0;
  } else {
    return JSON_SCAN_WRONG_TYPE;
  }
  return JSON_SCAN_OK;
}

json_scan_status_t json_array_begin(json_span_t array, json_array_iter_t *it) {
  cursor_t c;
  const json_scan_status_t status = whole_value(array, &c);
  if (status != JSON_SCAN_OK) return status;
  if (*c.at != '[') return JSON_SCAN_WRONG_TYPE;
  it->at = c.at + 1;
  it->end = c.end;
  return JSON_SCAN_OK;
}

json_scan_status_t json_array_next(json_array_iter_t *it, json_span_t *element) {
  cursor_t c;
  c.at = it->at;
  c.end = it->end;
  skip_space(&c);
  if (c.at >= c.end) return JSON_SCAN_MALFORMED;
  if (*c.at == ']') return JSON_SCAN_MISSING;
  element->data = c.at;
  if (skip_value(&c, 1) != JSON_SCAN_OK) return JSON_SCAN_MALFORMED;
  element->size = (size_t)(c.at - element->data);
  skip_space(&c);
  if (c.at < c.end && *c.at == ',') c.at++;
  it->at = c.at;
  return JSON_SCAN_OK;
}
