#include "util/byte_size.hpp"

#include <string>

namespace cronhost {
namespace {

constexpr std::string_view kExpected = "expected a whole number and a unit (B, KB, MB, GB), e.g. 100MB";
// 1 TiB: larger is certainly a typo, and it keeps number * unit far from overflow.
constexpr uint64_t kMaxBytes = uint64_t{1} << 40;

}  // namespace

Result<uint64_t> parse_byte_size(std::string_view text) {
  const std::string quoted = "\"" + std::string(text.substr(0, 64)) + "\"";
  size_t i = 0;
  uint64_t number = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    number = number * 10 + static_cast<uint64_t>(text[i] - '0');
    if (number > kMaxBytes) return Result<uint64_t>::error("size " + quoted + " is too large (at most 1024GB)");
    ++i;
  }
  if (i == 0) return Result<uint64_t>::error("bad size " + quoted + ": " + std::string(kExpected));
  if (i < text.size() && text[i] == ' ') ++i;
  const std::string_view unit = text.substr(i);
  uint64_t scale = 0;
  if (unit == "B") scale = 1;
  else if (unit == "KB" || unit == "KiB") scale = uint64_t{1} << 10;
  else if (unit == "MB" || unit == "MiB") scale = uint64_t{1} << 20;
  else if (unit == "GB" || unit == "GiB") scale = uint64_t{1} << 30;
  else if (unit.empty()) return Result<uint64_t>::error("bad size " + quoted + ": missing unit; " + std::string(kExpected));
  else
    return Result<uint64_t>::error("bad size " + quoted + ": unknown unit \"" + std::string(unit) + "\"; " +
                                   std::string(kExpected));
  if (number * scale > kMaxBytes) return Result<uint64_t>::error("size " + quoted + " is too large (at most 1024GB)");
  return number * scale;
}

}  // namespace cronhost
