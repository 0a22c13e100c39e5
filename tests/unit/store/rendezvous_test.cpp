#include "store/rendezvous.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace cronhost::store;

namespace {

std::vector<std::string> jobs(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("job" + std::to_string(i));
  return names;
}

}  // namespace

TEST_CASE("rendezvous: every host picks the same preferred host, whatever the list's order", "[store][rendezvous]") {
  const std::vector<std::string> a{"9f1c2e0d4b5a6978", "0a1b2c3d4e5f6071", "77aa88bb99cc00dd"};
  const std::vector<std::string> b{a[2], a[0], a[1]};
  for (const auto& job : jobs(200)) CHECK(preferred_host(job, a) == preferred_host(job, b));
  CHECK(preferred_host("job", {}).empty());
  CHECK(preferred_host("job", {"only"}) == "only");
  // A fixed value, computed by a Python transcription of the hash: hosts of other builds and
  // platforms must score alike, so the hash is spelled out, not std::hash.
  CHECK(rendezvous_score("nightly-backup", "0a1b2c3d4e5f6071") == 0xbea4a415cc1f5dd2ull);
  CHECK(rendezvous_score("ab", "c") != rendezvous_score("a", "bc"));
}

TEST_CASE("rendezvous: 300 jobs spread evenly over 3 hosts", "[store][rendezvous]") {
  // Ids as new_host_identity makes them: 16 hex digits, here differing in one place only.
  const std::vector<std::string> hosts{"5d0c1e2f3a4b5c60", "5d0c1e2f3a4b5c61", "5d0c1e2f3a4b5c62"};
  std::map<std::string, int> won;
  for (const auto& job : jobs(300)) ++won[preferred_host(job, hosts)];
  REQUIRE(won.size() == 3);
  for (const auto& [host, n] : won) {
    INFO(host);
    CHECK(n >= 70);  // 100 each on average; a binomial(300, 1/3) stays within 70-130 here
    CHECK(n <= 130);
  }
}

TEST_CASE("rendezvous: a host leaving moves only the jobs it won, and joining takes only its own", "[store][rendezvous]") {
  const std::vector<std::string> three{"a1", "b2", "c3"};
  const std::vector<std::string> two{"a1", "c3"};
  int moved = 0;
  for (const auto& job : jobs(300)) {
    const std::string before = preferred_host(job, three);
    const std::string after = preferred_host(job, two);
    if (before != "b2") CHECK(after == before);
    moved += before != after;
  }
  CHECK(moved > 0);
  CHECK(moved < 150);
}

TEST_CASE("rendezvous: a host not among the live ones (just started, cut off) claims at once", "[store][rendezvous]") {
  LiveHosts live;
  CHECK(live.first_to_claim("job1", "me"));  // unknown yet
  live.set({"other1", "other2"});
  for (const auto& job : jobs(50)) CHECK(live.first_to_claim(job, "me"));
  live.set({"me", "other1", "other2"});
  int mine = 0;
  for (const auto& job : jobs(300)) {
    const bool first = live.first_to_claim(job, "me");
    CHECK(first == (preferred_host(job, {"me", "other1", "other2"}) == "me"));
    mine += first;
  }
  CHECK(mine > 50);
  CHECK(mine < 150);
}
