// Bearer tokens and roles of the admin API. A token maps to a caller (its name and role);
// each route needs a permission, which roles grant. Thread-safe: requests authenticate
// while a reload replaces the tokens.
#pragma once
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/host_config.hpp"

namespace cronhost::server {

struct Caller {
  std::string name;
  config::Role role = config::Role::kViewer;
};

// What a route needs: reading is every role's; the rest as the roles say.
enum class Permission { kRead, kOperate, kApprove };

bool role_grants(config::Role role, Permission permission);
std::string_view role_name(config::Role role);

class TokenTable {
 public:
  explicit TokenTable(std::vector<config::ApiToken> tokens);
  // The caller an `Authorization: Bearer TOKEN` header names; nothing for a missing header,
  // another scheme or an unknown token. Compares with every token in constant time, so the
  // answer's timing does not tell how much of a guess was right.
  std::optional<Caller> authenticate(std::string_view authorization) const;
  // New tokens (SIGHUP): rotated tokens work at once, removed ones stop working.
  void replace(std::vector<config::ApiToken> tokens);

 private:
  mutable std::shared_mutex mutex_;
  std::vector<config::ApiToken> tokens_;
};

}  // namespace cronhost::server
