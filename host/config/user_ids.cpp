#include "config/user_ids.hpp"

#include <pwd.h>

#include <vector>

namespace cronhost::config {

Result<std::string> user_ids(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
    return Result<std::string>::error("no user named " + name + " on this host (expected a user name or uid:gid)");
  return std::to_string(found->pw_uid) + ":" + std::to_string(found->pw_gid);
}

}  // namespace cronhost::config
