// The running program's own file, as /proc/self/exe names it (symlinks resolved, so an install
// reached through a link finds its real folder). Nothing when /proc cannot say.
#pragma once
#include <filesystem>
#include <optional>

namespace cronhost {

inline std::optional<std::filesystem::path> own_executable() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return self;
}

}  // namespace cronhost
