#include "server/auth.hpp"

#include <mutex>

namespace cronhost::server {
namespace {

// Equal in time that depends only on the lengths (tokens are at least 16 characters).
bool same_secret(std::string_view a, std::string_view b) {
  if (b.empty()) return false;
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i % b.size()]);
  return diff == 0;
}

}  // namespace

bool role_grants(config::Role role, Permission permission) {
  switch (permission) {
    case Permission::kRead: return true;
    case Permission::kOperate: return role == config::Role::kOperator || role == config::Role::kAdmin;
    case Permission::kApprove: return role == config::Role::kApprover || role == config::Role::kAdmin;
  }
  return false;
}

std::string_view role_name(config::Role role) {
  switch (role) {
    case config::Role::kViewer: return "viewer";
    case config::Role::kOperator: return "operator";
    case config::Role::kApprover: return "approver";
    case config::Role::kAdmin: return "admin";
  }
  return "viewer";
}

TokenTable::TokenTable(std::vector<config::ApiToken> tokens) : tokens_(std::move(tokens)) {}

std::optional<Caller> TokenTable::authenticate(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i)  // the scheme is case-insensitive (RFC 9110)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != std::tolower(static_cast<unsigned char>(kScheme[i])))
      return std::nullopt;
  const std::string_view presented = authorization.substr(kScheme.size());
  std::shared_lock lock(mutex_);
  const config::ApiToken* match = nullptr;
  for (const auto& token : tokens_)  // no early exit: every token is compared
    if (same_secret(presented, token.token)) match = &token;
  if (!match) return std::nullopt;
  return Caller{match->name, match->role};
}

void TokenTable::replace(std::vector<config::ApiToken> tokens) {
  std::unique_lock lock(mutex_);
  tokens_ = std::move(tokens);
}

}  // namespace cronhost::server
