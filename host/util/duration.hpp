// Durations as operators write them: 500ms, 30s, 15m, 2h, 1d (also combined: 1h30m).
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace cronhost {

using Millis = std::chrono::milliseconds;

// Parses "500ms", "30s", "15m", "2h", "1d" or a concatenation such as "1h30m".
// Fails with a message saying what was expected.
Result<Millis> parse_duration(std::string_view text);

// The shortest exact spelling: 90000ms -> "1m30s".
std::string format_duration(Millis d);

}  // namespace cronhost
