// Sizes as operators write them: 512KB, 100MB, 1GB (powers of 1024, as logrotate's 100M;
// KiB/MiB/GiB are the same). Used by log.max_size.
#pragma once
#include <cstdint>
#include <string_view>

#include "util/status.hpp"

namespace cronhost {

// Parses a whole number and a unit (B, KB, MB, GB, KiB, MiB, GiB; a space between allowed).
// Fails with a message quoting the text and saying what was expected.
Result<uint64_t> parse_byte_size(std::string_view text);

}  // namespace cronhost
