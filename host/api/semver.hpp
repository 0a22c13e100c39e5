// Semantic versions (SemVer 2.0.0, https://semver.org): parsing, precedence, npm-style
// constraints, and picking the newest of a registry's tags. Plain values and pure
// functions: safe to use from any thread.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.hpp"

namespace cronhost::api {

struct Version {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // "rc.1" -> {"rc", "1"}; empty for a release
  std::string build;                    // after '+', without it; empty when absent

  // Canonical spelling, without a leading 'v': "1.2.3-rc.1+build.5".
  std::string text() const;
};

// Strict SemVer 2.0.0 (three numbers, no leading zeros in numeric identifiers, non-empty
// [0-9A-Za-z-] identifiers), except that one leading 'v' is accepted, because registries
// commonly tag "v1.2.3". Returns nullopt for anything else, including numbers beyond 2^64-1.
std::optional<Version> parse_version(std::string_view text);

// SemVer precedence: -1 when a < b, 0 when equal, 1 when a > b. Build metadata is ignored,
// so 1.0.0+a and 1.0.0+b compare equal.
int compare(const Version& a, const Version& b);

// A set of allowed versions, written as npm writes ranges:
//   ">=1.0.0 <2.0.0"   comparators separated by spaces, all must hold
//   "^1.2 || ^2.0.0"   alternatives, any may hold
//   = == != > >= < <=  operators; a bare version means =
//   ^1.2.3 ~1.2.3      npm's caret and tilde, including the ^0.x rules (^0.2.3 is <0.3.0)
//   1.2 1 1.2.x *      partial versions and x/X/* wildcards
// A pre-release version is allowed only by an alternative that has a comparator naming a
// pre-release of the same major.minor.patch (npm's rule): ">=1.2.3-beta.1" allows
// 1.2.3-beta.2 but not 1.2.4-alpha, so opting in to one pre-release does not pull in every
// later unstable build.
class Constraint {
 public:
  // Fails with a message naming the bad part and what was expected, e.g.
  //   constraint ">=1.0.0 <2.x.y": "2.x.y" is not a version (expected e.g. 1.2.3)
  static Result<Constraint> parse(std::string_view text);

  // `include_prerelease` lifts the pre-release rule above, so pre-releases are judged by the
  // comparators alone (npm's includePrerelease).
  bool allows(const Version& version, bool include_prerelease = false) const;

 private:
  Constraint() = default;  // only parse() makes one: an empty Constraint would allow nothing

  enum class Op { kEq, kNe, kGt, kGe, kLt, kLe };
  struct Comparator {
    Op op;
    Version version;
  };
  using Alternative = std::vector<Comparator>;  // an empty one allows everything ("*")

  static bool holds(const Comparator& c, const Version& v);
  static Result<Alternative> parse_alternative(std::string_view text, std::string_view whole);
  static Status add_comparator(std::string_view token, std::string_view whole, Alternative& out);

  std::vector<Alternative> alternatives_;
};

// The highest of `tags` that parses as a version, as written (so "v1.4.0" stays "v1.4.0").
// Other tags ("latest", "sha-abc") are ignored; pre-releases are skipped unless
// `include_prerelease`; `constraint`, when not null, must allow the version (with
// include_prerelease passed on). Ties are broken by build metadata, then by the text, so the
// order of `tags` never changes the answer. nullopt when no tag qualifies.
std::optional<std::string> latest_tag(const std::vector<std::string>& tags, bool include_prerelease,
                                      const Constraint* constraint);

// latest_tag(), parsed.
std::optional<Version> latest(const std::vector<std::string>& tags, bool include_prerelease,
                              const Constraint* constraint);

}  // namespace cronhost::api
