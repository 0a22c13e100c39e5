#include "api/pg_values.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/printable.hpp"

namespace cronhost::api {
namespace {

// The OIDs of PostgreSQL's built-in types (pg_type.dat); stable across versions.
constexpr PgOid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
                kFloat8 = 701, kTimestamp = 1114, kTimestampTz = 1184, kTimeTz = 1266, kNumeric = 1700;

// A decimal as (negative, significant digits, exponent): value = 0.DIGITS x 10^exponent.
struct Decimal {
  bool negative = false;
  std::string digits;
  long exponent = 0;
  bool operator==(const Decimal&) const = default;
};

std::optional<Decimal> parse_decimal(std::string_view text) {
  Decimal d;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) d.negative = text[i++] == '-';
  long point = -1;
  long count = 0;
  for (; i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'); ++i) {
    if (text[i] == '.') {
      if (point >= 0) return std::nullopt;
      point = count;
      continue;
    }
    d.digits += text[i];
    ++count;
  }
  if (count == 0) return std::nullopt;
  long exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    const auto [end, ec] = std::from_chars(text.data() + i + (text[i + 1] == '+' ? 2 : 1), text.data() + text.size(), exp);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  } else if (i != text.size()) {
    return std::nullopt;
  }
  d.exponent = (point >= 0 ? point : count) + exp;
  const size_t first = d.digits.find_first_not_of('0');
  if (first == std::string::npos) return Decimal{};  // zero, whatever its sign
  d.exponent -= static_cast<long>(first);
  d.digits = d.digits.substr(first, d.digits.find_last_not_of('0') - first + 1);
  return d;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's hex output ('\x0a1b'), the default since PostgreSQL 9.0.
DbValue bytea_value(std::string_view text) {
  if (text.substr(0, 2) != "\\x") return std::string(text);  // bytea_output = escape: left as text
  DbBytes bytes;
  bytes.data.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2)
    bytes.data += static_cast<char>(hex_digit(text[i]) * 16 + hex_digit(text[i + 1]));
  return bytes;
}

}  // namespace

bool decimal_fits_double(std::string_view text, double value) {
  if (!std::isfinite(value)) return false;
  char shortest[64];
  const auto [end, ec] = std::to_chars(shortest, shortest + sizeof shortest, value);
  if (ec != std::errc()) return false;
  const auto a = parse_decimal(text);
  const auto b = parse_decimal(std::string_view(shortest, static_cast<size_t>(end - shortest)));
  return a && b && *a == *b;
}

PgParam pg_param(const DbValue& value) {
  struct Visit {
    PgParam operator()(std::nullptr_t) const { return {0, {}, true, false}; }
    PgParam operator()(bool b) const { return {kBool, b ? "true" : "false", false, false}; }
    PgParam operator()(int64_t i) const { return {kInt8, std::to_string(i), false, false}; }
    PgParam operator()(double d) const {
      if (std::isnan(d)) return {kFloat8, "NaN", false, false};
      if (std::isinf(d)) return {kFloat8, d > 0 ? "Infinity" : "-Infinity", false, false};
      char buffer[64];
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);  // shortest, exact
      return {kFloat8, std::string(buffer, ec == std::errc() ? end : buffer), false, false};
    }
    // A Lua string that is not text (a NUL, not UTF-8) goes as bytea: sent as text, the NUL
    // would cut it short and bad UTF-8 be refused.
    PgParam operator()(const std::string& s) const {
      return is_text(s) ? PgParam{0, s, false, false} : PgParam{kBytea, s, false, true};
    }
    PgParam operator()(const DbBytes& b) const { return {kBytea, b.data, false, true}; }
  };
  return std::visit(Visit{}, value);
}

std::string pg_timestamp_text(std::string_view text) {
  // YYYY-MM-DD HH:MM:SS[.frac][+HH[:MM[:SS]]]; BC dates and infinity stay as they are.
  if (text.size() < 19 || text[10] != ' ' || text[4] != '-' || text[13] != ':' || text.find(" BC") != std::string_view::npos)
    return std::string(text);
  std::string out(text);
  out[10] = 'T';
  const size_t zone = out.find_first_of("+-", 19);
  if (zone == std::string::npos) return out;
  const std::string offset = out.substr(zone);
  out.erase(zone);
  if (offset == "+00" || offset == "+00:00" || offset == "-00") return out + "Z";
  return out + offset + (offset.size() == 3 ? ":00" : "");
}

DbValue pg_value(PgOid type, std::string_view text) {
  switch (type) {
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: {
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && end == text.data() + text.size()) return n;
      return std::string(text);
    }
    case kFloat4:
    case kFloat8: return std::strtod(std::string(text).c_str(), nullptr);  // NaN and Infinity too
    case kNumeric: {
      const double d = std::strtod(std::string(text).c_str(), nullptr);
      if (decimal_fits_double(text, d)) return d;
      return std::string(text);
    }
    case kBool: return text == "t";
    case kBytea: return bytea_value(text);
    case kTimestamp:
    case kTimestampTz: return pg_timestamp_text(text);
    case kTimeTz: {
      std::string out(text);
      if (out.size() > 3 && out.substr(out.size() - 3) == "+00") return out.substr(0, out.size() - 3) + "Z";
      return out;
    }
    default: return std::string(text);
  }
}

}  // namespace cronhost::api
