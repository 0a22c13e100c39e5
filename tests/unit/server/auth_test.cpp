#include <catch2/catch.hpp>

#include "server/auth.hpp"

using namespace cronhost;
using namespace cronhost::server;
using config::Role;

TEST_CASE("tokens name their caller, anything else is no one", "[server][auth]") {
  TokenTable tokens({{"alice", Role::kAdmin, "alice-token-0123456789"}, {"viv", Role::kViewer, "viewer-token-0123456789"}});
  auto alice = tokens.authenticate("Bearer alice-token-0123456789");
  REQUIRE(alice);
  CHECK(alice->name == "alice");
  CHECK(alice->role == Role::kAdmin);
  CHECK(tokens.authenticate("bearer viewer-token-0123456789")->name == "viv");  // the scheme ignores case
  CHECK_FALSE(tokens.authenticate(""));
  CHECK_FALSE(tokens.authenticate("Bearer "));
  CHECK_FALSE(tokens.authenticate("alice-token-0123456789"));          // no scheme
  CHECK_FALSE(tokens.authenticate("Basic alice-token-0123456789"));    // another scheme
  CHECK_FALSE(tokens.authenticate("Bearer alice-token-012345678"));    // a prefix
  CHECK_FALSE(tokens.authenticate("Bearer alice-token-01234567890"));  // longer
  CHECK_FALSE(tokens.authenticate("Bearer alice-token-0123456788"));   // last character wrong
}

TEST_CASE("replacing the tokens rotates them at once", "[server][auth]") {
  TokenTable tokens({{"alice", Role::kAdmin, "old-token-0123456789"}});
  tokens.replace({{"alice", Role::kOperator, "new-token-0123456789"}});
  CHECK_FALSE(tokens.authenticate("Bearer old-token-0123456789"));
  CHECK(tokens.authenticate("Bearer new-token-0123456789")->role == Role::kOperator);
}

TEST_CASE("roles grant permissions", "[server][auth]") {
  using P = Permission;
  struct Row {
    Role role;
    bool operate, approve;
  };
  for (const auto& [role, operate, approve] : {Row{Role::kViewer, false, false}, Row{Role::kOperator, true, false},
                                               Row{Role::kApprover, false, true}, Row{Role::kAdmin, true, true}}) {
    INFO(role_name(role));
    CHECK(role_grants(role, P::kRead));
    CHECK(role_grants(role, P::kOperate) == operate);
    CHECK(role_grants(role, P::kApprove) == approve);
  }
}
