// PostgreSQL's text forms and the db API's values: how a bound value is sent (text with a
// type, bytes as binary) and how a column's text comes back typed by its type OID. The
// session runs with DateStyle ISO, TimeZone UTC and IntervalStyle iso_8601 (db_postgres),
// which the timestamp conversion relies on. Pure functions; thread-safe.
#pragma once
#include <string>
#include <string_view>

#include "api/db_value.hpp"

namespace cronhost::api {

using PgOid = unsigned int;

// One parameter of PQsendQueryParams. A null `value` pointer is SQL NULL; text goes with the
// type left to the server (OID 0), so that '2026-12-03' binds to a date and '{"a":1}' to jsonb.
struct PgParam {
  PgOid type = 0;
  std::string text;  // the value's text, or bytea's bytes
  bool null = false;
  bool binary = false;
};
PgParam pg_param(const DbValue& value);

// A column's text as the server sent it, typed by `type`: integers, floating point and
// numerics that a double holds exactly as numbers, bool, bytea as DbBytes, timestamps as
// RFC 3339 text ('2026-12-03T10:00:00Z'); everything else as its text.
DbValue pg_value(PgOid type, std::string_view text);

// '2026-12-03 10:00:00.5+00' -> '2026-12-03T10:00:00.5Z'; '... +05:30' -> '...+05:30';
// '2026-12-03 10:00:00' (without a zone) -> '2026-12-03T10:00:00'. Other text unchanged.
std::string pg_timestamp_text(std::string_view text);

// True when the decimal `text` is exactly the value of the double nearest to it when printed
// shortest ('0.1', '12.50', '1e300'), so the number loses nothing.
bool decimal_fits_double(std::string_view text, double value);

}  // namespace cronhost::api
