// PostgreSQL's text forms to the db API's values and back, without a server.
#include <catch2/catch.hpp>

#include <cmath>

#include "api/pg_values.hpp"

using namespace cronhost::api;

TEST_CASE("pg values: numerics are numbers only when a double holds them exactly", "[api][postgres]") {
  for (const auto& [text, fits] : std::vector<std::pair<std::string, bool>>{
           {"0", true},          {"12.50", true},        {"-0.1", true},       {"1e300", true},
           {"0.000", true},      {"9007199254740992", true}, {"9007199254740993", false},
           {"12345678901234567890.123", false}, {"0.1000000000000000055511151231257827", false},
           {"NaN", false},       {"Infinity", false}}) {
    INFO(text);
    CHECK(decimal_fits_double(text, std::strtod(text.c_str(), nullptr)) == fits);
  }
  CHECK(pg_value(1700, "12.50") == DbValue(12.5));
  CHECK(pg_value(1700, "9007199254740993") == DbValue(std::string("9007199254740993")));
}

TEST_CASE("pg values: columns typed by OID", "[api][postgres]") {
  CHECK(pg_value(20, "-9223372036854775808") == DbValue(INT64_MIN));
  CHECK(pg_value(23, "42") == DbValue(int64_t{42}));
  CHECK(pg_value(701, "0.1") == DbValue(0.1));
  CHECK(std::isinf(std::get<double>(pg_value(701, "-Infinity"))));
  CHECK(pg_value(16, "t") == DbValue(true));
  CHECK(pg_value(16, "f") == DbValue(false));
  CHECK(pg_value(17, "\\x00ff41") == DbValue(DbBytes{std::string("\0\xff" "A", 3)}));
  CHECK(pg_value(1184, "2026-12-03 10:20:30+00") == DbValue(std::string("2026-12-03T10:20:30Z")));
  CHECK(pg_value(1114, "2026-12-03 10:20:30.123456") == DbValue(std::string("2026-12-03T10:20:30.123456")));
  CHECK(pg_value(1082, "2026-12-03") == DbValue(std::string("2026-12-03")));
  CHECK(pg_value(3802, "{\"a\": 1}") == DbValue(std::string("{\"a\": 1}")));  // jsonb
}

TEST_CASE("pg values: timestamps as RFC 3339 text", "[api][postgres]") {
  CHECK(pg_timestamp_text("2026-12-03 10:20:30.5+00") == "2026-12-03T10:20:30.5Z");
  CHECK(pg_timestamp_text("2026-12-03 10:20:30+05:30") == "2026-12-03T10:20:30+05:30");
  CHECK(pg_timestamp_text("2026-12-03 10:20:30-08") == "2026-12-03T10:20:30-08:00");
  CHECK(pg_timestamp_text("infinity") == "infinity");
  CHECK(pg_timestamp_text("0044-03-15 12:00:00+00 BC") == "0044-03-15 12:00:00+00 BC");
}

TEST_CASE("pg values: parameters as text with a type, bytes as binary", "[api][postgres]") {
  const auto p = [](const DbValue& v) { return pg_param(v); };
  CHECK(p(nullptr).null);
  CHECK((p(true).type == 16 && p(true).text == "true"));
  CHECK((p(int64_t{-5}).type == 20 && p(int64_t{-5}).text == "-5"));
  CHECK((p(0.1).type == 701 && p(0.1).text == "0.1"));
  CHECK(p(std::nan("")).text == "NaN");
  CHECK((p(std::string("2026-12-03")).type == 0 && p(std::string("2026-12-03")).text == "2026-12-03"));
  const auto bytes = p(DbBytes{std::string("\0\1", 2)});
  CHECK((bytes.type == 17 && bytes.binary && bytes.text == std::string("\0\1", 2)));
  // A Lua string that is not text travels as bytes: a NUL would cut text short.
  for (const std::string& not_text : {std::string("x\0y", 3), std::string("\xff\xfe"), std::string("\xc0\xaf"),
                                      std::string("\xed\xa0\x80"), std::string("caf\xc3")}) {
    const auto sent = p(not_text);
    CHECK((sent.type == 17 && sent.binary && sent.text == not_text));
  }
  CHECK((p(std::string("caf\xc3\xa9 \xf0\x9f\x98\x80")).type == 0 && !p(std::string("caf\xc3\xa9")).binary));
}
