#include "util/duration.hpp"

#include <cctype>
#include <cstdint>

namespace cronhost {
namespace {

constexpr std::string_view kExpected = "expected a number and a unit (ms, s, m, h, d), e.g. 30s, 15m or 1h30m";
// Ten years: longer durations are certainly typos, and it keeps every sum far from overflow.
constexpr int64_t kMaxMillis = int64_t{10} * 366 * 24 * 3600 * 1000;

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  const std::string quoted = "\"" + std::string(text.substr(0, 64)) + "\"";
  if (text.empty()) return Result<Millis>::error("empty duration: " + std::string(kExpected));
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])))
      return Result<Millis>::error("bad duration " + quoted + ": " + std::string(kExpected));
    int64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + (text[i] - '0');
      if (number > kMaxMillis) return Result<Millis>::error("duration " + quoted + " is too long (at most 3650d)");
      ++i;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else if (unit.empty())
      return Result<Millis>::error("bad duration " + quoted + ": missing unit; " + std::string(kExpected));
    else
      return Result<Millis>::error("bad duration " + quoted + ": unknown unit \"" + std::string(unit) + "\"; " +
                                   std::string(kExpected));
    total += number * scale;
    if (total > kMaxMillis) return Result<Millis>::error("duration " + quoted + " is too long (at most 3650d)");
  }
  return Millis(total);
}

std::string format_duration(Millis d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [scale, name] : kUnits) {
    if (ms >= scale) {
      out += std::to_string(ms / scale) + name;
      ms %= scale;
    }
  }
  return out;
}

}  // namespace cronhost
