// "uid:gid" as run_as gives it (the config) and the plugin runner reads it: two decimal ids,
// each one a process can switch to. Header-only: the runner links little of the host.
#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cronhost {

struct UidGid {
  uint32_t uid = 0, gid = 0;
};

// Nothing unless `text` is exactly digits:digits with each id below 4294967295, which
// setresuid and setresgid read as "leave unchanged" (so a runner given it would stay root).
inline std::optional<UidGid> parse_uid_gid(std::string_view text) {
  const auto read = [](std::string_view digits, uint32_t& id) {  // from_chars takes no sign or space
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    return error == std::errc() && end == digits.data() + digits.size() && id != UINT32_MAX;
  };
  const size_t colon = text.find(':');
  UidGid ids;
  if (colon == std::string_view::npos || !read(text.substr(0, colon), ids.uid) || !read(text.substr(colon + 1), ids.gid))
    return std::nullopt;
  return ids;
}

}  // namespace cronhost
