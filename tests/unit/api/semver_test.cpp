// Semantic versions: strict parsing, SemVer precedence, npm-style constraints, latest tag.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "api/semver.hpp"

using namespace cronhost::api;

namespace {

Version v(const char* text) {
  auto parsed = parse_version(text);
  INFO(text);
  REQUIRE(parsed);
  return *parsed;
}

bool allows(const char* constraint, const char* version) {
  auto c = Constraint::parse(constraint);
  INFO(constraint);
  REQUIRE(c);
  return c->allows(v(version));
}

}  // namespace

TEST_CASE("versions parse into their parts and print canonically", "[semver]") {
  const Version full = v("1.22.333-rc.1.x-y+build.007");
  CHECK(full.major == 1);
  CHECK(full.minor == 22);
  CHECK(full.patch == 333);
  CHECK(full.prerelease == std::vector<std::string>{"rc", "1", "x-y"});
  CHECK(full.build == "build.007");
  CHECK(full.text() == "1.22.333-rc.1.x-y+build.007");
  CHECK(v("v0.0.0").text() == "0.0.0");  // one leading 'v', as registries tag
  CHECK(v("1.0.0-0.3.7").prerelease == std::vector<std::string>{"0", "3", "7"});
  CHECK(v("1.0.0+20130313144700").build == "20130313144700");
  CHECK(v("18446744073709551615.0.0").major == 18446744073709551615u);
}

TEST_CASE("invalid versions are refused", "[semver]") {
  const char* invalid[] = {"",         "01.2.3",   "1.02.3",  "1.2.03",  "1.2",     "1",       "1.2.3.4",
                           "1.2.3-",   "1.2.3-01", "1.2.3+",  "1.2.3-a..b", "1.2.3+a..b", "1.2.3-a_b", "vv1.2.3",
                           "V1.2.3",   " 1.2.3",   "1.2.3 ",  "-1.2.3",  "1.-2.3",  "a.b.c",   "1.2.x",
                           "1.2.3+a+b", "18446744073709551616.0.0"};
  for (const char* text : invalid) {
    INFO(text);
    CHECK_FALSE(parse_version(text));
  }
}

TEST_CASE("precedence follows the spec's example chain", "[semver]") {
  const char* chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                         "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"};
  for (size_t i = 0; i < std::size(chain); ++i) {
    for (size_t j = 0; j < std::size(chain); ++j) {
      INFO(chain[i] << " vs " << chain[j]);
      CHECK(compare(v(chain[i]), v(chain[j])) == (i < j ? -1 : i > j ? 1 : 0));
    }
  }
  CHECK(compare(v("1.0.0+a"), v("1.0.0+b")) == 0);  // build metadata is ignored
  CHECK(compare(v("v1.0.0"), v("1.0.0")) == 0);
  CHECK(compare(v("1.0.0-99999999999999999999999"), v("1.0.0-100000000000000000000000")) == -1);  // beyond 64 bits
  CHECK(compare(v("1.0.0-a-b"), v("1.0.0-a")) == 1);
}

TEST_CASE("comparators, partial versions and wildcards", "[semver][constraint]") {
  CHECK(allows(">=1.0.0 <2.0.0", "1.5.0"));
  CHECK_FALSE(allows(">=1.0.0 <2.0.0", "2.0.0"));
  CHECK(allows("1.2.3", "1.2.3+build"));
  CHECK(allows("=1.2.3", "1.2.3"));
  CHECK(allows("==1.2.3", "1.2.3"));
  CHECK_FALSE(allows("1.2.3", "1.2.4"));
  CHECK(allows("!=1.2.3", "1.2.4"));
  CHECK_FALSE(allows("!=1.2.3", "1.2.3"));
  CHECK(allows(">1.2.3", "1.2.4"));
  CHECK_FALSE(allows(">1.2.3", "1.2.3"));
  CHECK(allows("<=1.2.3", "1.2.3"));
  CHECK(allows(">= 1.2.3  < 1.3", "1.2.9"));  // an operator may stand apart from its version
  CHECK(allows("1.2", "1.2.9"));
  CHECK_FALSE(allows("1.2", "1.3.0"));
  CHECK(allows("1.2.x", "1.2.0"));
  CHECK(allows("1", "1.99.0"));
  CHECK(allows("1.x.x", "1.0.0"));
  CHECK_FALSE(allows("1.x", "2.0.0"));
  CHECK(allows("*", "0.0.1"));
  CHECK(allows("x", "123.4.5"));
  CHECK_FALSE(allows(">*", "1.0.0"));
  CHECK(allows(">1.2", "1.3.0"));
  CHECK_FALSE(allows(">1.2", "1.2.9"));
  CHECK_FALSE(allows("<1.2", "1.2.0"));
  CHECK(allows("<=1.2", "1.2.9"));
  CHECK_FALSE(allows("<=1.2", "1.3.0"));
  CHECK(allows("v1.2.3", "1.2.3"));
}

TEST_CASE("caret and tilde have npm's meaning", "[semver][constraint]") {
  const std::tuple<const char*, const char*, const char*, const char*> rows[] = {
      // constraint, lowest allowed, highest allowed, lowest refused above
      {"^1.2.3", "1.2.3", "1.99.99", "2.0.0"},
      {"^0.2.3", "0.2.3", "0.2.99", "0.3.0"},
      {"^0.0.3", "0.0.3", "0.0.3", "0.0.4"},
      {"^1.2", "1.2.0", "1.99.0", "2.0.0"},
      {"^0.0", "0.0.0", "0.0.99", "0.1.0"},
      {"^0.x", "0.0.0", "0.99.0", "1.0.0"},
      {"^1", "1.0.0", "1.99.99", "2.0.0"},
      {"~1.2.3", "1.2.3", "1.2.99", "1.3.0"},
      {"~1.2", "1.2.0", "1.2.99", "1.3.0"},
      {"~1", "1.0.0", "1.99.0", "2.0.0"},
      {"~0.2.3", "0.2.3", "0.2.99", "0.3.0"},
  };
  for (auto [constraint, low, high, above] : rows) {
    INFO(constraint);
    CHECK(allows(constraint, low));
    CHECK(allows(constraint, high));
    CHECK_FALSE(allows(constraint, above));
    CHECK_FALSE(allows(constraint, "0.0.1-0"));
  }
  CHECK_FALSE(allows("^0.2.3", "0.2.2"));
  CHECK_FALSE(allows("~1.2.3", "1.2.2"));
  CHECK(allows("^18446744073709551615.0.0", "18446744073709551615.99.0"));  // no bound above the largest major
}

TEST_CASE("alternatives: any one may hold", "[semver][constraint]") {
  CHECK(allows("^1.2 || ^3.0.0", "1.4.0"));
  CHECK(allows("^1.2 || ^3.0.0", "3.1.0"));
  CHECK_FALSE(allows("^1.2 || ^3.0.0", "2.0.0"));
  CHECK(allows("1.0.0||2.0.0", "2.0.0"));
}

TEST_CASE("pre-releases are allowed only when a comparator opts in on the same x.y.z", "[semver][constraint]") {
  CHECK(allows(">=1.2.3-beta.1", "1.2.3-beta.2"));
  CHECK(allows(">=1.2.3-beta.1", "1.2.4"));
  CHECK_FALSE(allows(">=1.2.3-beta.1", "1.2.4-alpha"));
  CHECK_FALSE(allows(">=1.0.0", "1.5.0-rc.1"));
  CHECK_FALSE(allows("*", "1.0.0-rc.1"));
  CHECK_FALSE(allows("^1.2.3", "2.0.0-rc.1"));  // the "<2.0.0-0" bound does not let 2.0.0's pre-releases in
  CHECK(allows("^1.2.3-rc.1", "1.2.3-rc.2"));
  CHECK_FALSE(allows("^1.2.3-rc.1", "1.2.4-rc.1"));
  CHECK(allows("~1.2.3-beta.2", "1.2.3-beta.4"));
  CHECK(allows("1.0.0-rc.1 || >=2.0.0", "1.0.0-rc.1"));
  CHECK_FALSE(allows("1.0.0-rc.1 || >=2.0.0", "2.1.0-rc.1"));
  // include_prerelease judges pre-releases by the comparators alone.
  CHECK(Constraint::parse(">=1.0.0").value().allows(v("1.5.0-rc.1"), true));
  CHECK_FALSE(Constraint::parse("^1.2.3").value().allows(v("2.0.0-rc.1"), true));
}

TEST_CASE("bad constraints name the bad part and what was expected", "[semver][constraint]") {
  const std::pair<const char*, const char*> rows[] = {
      {">=1.0.0 <2.x.y", R"(constraint ">=1.0.0 <2.x.y": "2.x.y" is not a version (expected e.g. 1.2.3))"},
      {"1.x.3", R"(constraint "1.x.3": "1.x.3" is not a version (expected e.g. 1.2.3))"},
      {"^01.2", R"(constraint "^01.2": "01.2" is not a version (expected e.g. 1.2.3))"},
      {"1.2-beta", R"(constraint "1.2-beta": "1.2-beta" is not a version (expected e.g. 1.2.3))"},
      {"", R"(constraint "": empty (expected e.g. ^1.2.3, >=1.0.0 <2.0.0 or *))"},
      {"  ", R"(constraint "  ": empty (expected e.g. ^1.2.3, >=1.0.0 <2.0.0 or *))"},
      {"^1.0.0 ||", R"(constraint "^1.0.0 ||": an alternative around "||" is empty (expected e.g. ^1.2.3 || ^2.0.0))"},
      {"=>1.0.0", R"(constraint "=>1.0.0": "=>" is not an operator (expected one of = == != > >= < <= ^ ~))"},
      {"~>1.2", R"(constraint "~>1.2": "~>" is not an operator (expected one of = == != > >= < <= ^ ~))"},
      {"1.0.0 >=", R"(constraint "1.0.0 >=": ">=" needs a version after it (expected e.g. >=1.2.3))"},
      {"!=1.2", R"(constraint "!=1.2": "!=1.2" needs a full version (expected e.g. !=1.2.3))"},
      {"1.2.3 - 2.0.0", R"(constraint "1.2.3 - 2.0.0": hyphen ranges are not supported (expected e.g. >=1.2.3 <=2.0.0))"},
  };
  for (auto [text, message] : rows) {
    INFO(text);
    auto c = Constraint::parse(text);
    REQUIRE_FALSE(c);
    CHECK(c.message() == message);
  }
}

TEST_CASE("latest picks the highest version tag, in any order", "[semver][latest]") {
  std::vector<std::string> tags = {"0.1.2", "0.1.3", "0.1.5", "0.2.0-rc.1", "latest", "sha-abc"};
  const auto below = Constraint::parse("<0.1.5").value();
  std::mt19937 shuffle_seed(7);
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    CHECK(latest(tags, false, nullptr)->text() == "0.1.5");
    CHECK(latest(tags, true, nullptr)->text() == "0.2.0-rc.1");
    CHECK(latest(tags, false, &below)->text() == "0.1.3");
    std::shuffle(tags.begin(), tags.end(), shuffle_seed);
  }
  CHECK_FALSE(latest({"latest", "sha-abc", "1.2"}, true, nullptr));
  CHECK_FALSE(latest({"0.2.0-rc.1"}, false, nullptr));
  const auto caret = Constraint::parse("^1.0.0").value();
  CHECK(latest({"1.0.0", "1.1.0-rc.1", "2.0.0-rc.1"}, true, &caret)->text() == "1.1.0-rc.1");
}

TEST_CASE("latest_tag returns the tag as written and breaks ties by build, then text", "[semver][latest]") {
  CHECK(latest_tag({"v1.2.0", "v1.10.0", "v1.9.9"}, false, nullptr) == "v1.10.0");
  std::vector<std::string> ties = {"v1.0.0", "1.0.0+b", "1.0.0", "1.0.0+a", "0.9.0"};
  std::sort(ties.begin(), ties.end());
  do {
    CHECK(latest_tag(ties, false, nullptr) == "1.0.0+b");
  } while (std::next_permutation(ties.begin(), ties.end()));
  CHECK(latest_tag({"v1.0.0", "1.0.0"}, false, nullptr) == "1.0.0");
  CHECK(latest_tag({"1.0.0", "v1.0.0"}, false, nullptr) == "1.0.0");
}
