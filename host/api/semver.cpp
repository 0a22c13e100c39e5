#include "api/semver.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

namespace cronhost::api {
namespace {

constexpr uint64_t kMaxNumber = std::numeric_limits<uint64_t>::max();
constexpr std::string_view kOperatorChars = "<>=!^~";
constexpr std::string_view kBlank = " \t\r\n";

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_wildcard(std::string_view s) { return s == "x" || s == "X" || s == "*"; }

std::string quote(std::string_view s) { return "\"" + std::string(s.substr(0, 100)) + "\""; }

// A numeric identifier: digits, no leading zero (SemVer 2), and within uint64_t.
std::optional<uint64_t> parse_number(std::string_view s) {
  if (!is_digits(s) || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (n > (kMaxNumber - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

// Dot-separated, non-empty [0-9A-Za-z-] identifiers. Pre-release identifiers that are numeric
// must not have leading zeros; build identifiers may ("+001" is fine).
bool split_identifiers(std::string_view s, bool numeric_without_leading_zero, std::vector<std::string>* out) {
  while (true) {
    const size_t dot = s.find('.');
    const std::string_view id = s.substr(0, dot);
    if (id.empty()) return false;
    for (unsigned char c : id)
      if (!std::isalnum(c) && c != '-') return false;
    if (numeric_without_leading_zero && is_digits(id) && id.size() > 1 && id[0] == '0') return false;
    if (out) out->emplace_back(id);
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

int sign(int n) { return (n > 0) - (n < 0); }

template <typename T>
int compare_values(const T& a, const T& b) {
  return (a > b) - (a < b);
}

// Numeric identifiers compare as numbers (any length: no leading zeros, so the longer is
// larger) and below alphanumeric ones; alphanumeric ones compare in ASCII order.
int compare_identifiers(const std::string& a, const std::string& b) {
  const bool a_numeric = is_digits(a), b_numeric = is_digits(b);
  if (a_numeric && b_numeric) return a.size() != b.size() ? compare_values(a.size(), b.size()) : sign(a.compare(b));
  if (a_numeric != b_numeric) return a_numeric ? -1 : 1;
  return sign(a.compare(b));
}

// A version in a constraint: "1.2.3-rc.1" (parts = 3), "1.2" / "1.2.x" (2), "1" / "1.x" (1),
// "*" / "x" (0). Missing parts are 0 in `version`.
struct Partial {
  Version version;
  int parts = 0;
};

std::optional<Partial> parse_partial(std::string_view s) {
  if (auto full = parse_version(s)) return Partial{std::move(*full), 3};
  if (!s.empty() && s[0] == 'v') s.remove_prefix(1);
  if (s.find_first_of("-+") != std::string_view::npos) return std::nullopt;  // pre-release needs all three numbers
  Partial p;
  uint64_t* fields[] = {&p.version.major, &p.version.minor, &p.version.patch};
  bool wildcard_seen = false;
  for (int i = 0; i < 3; ++i) {
    const size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (is_wildcard(part)) {
      wildcard_seen = true;
    } else {
      auto n = parse_number(part);
      if (!n || wildcard_seen) return std::nullopt;  // "1.x.3" is refused rather than guessed at
      *fields[i] = *n;
      ++p.parts;
    }
    if (dot == std::string_view::npos) return p;
    s.remove_prefix(dot + 1);
  }
  return std::nullopt;  // a fourth part
}

// The lowest release above every version that starts with `v`'s first `level` + 1 numbers:
// bump(1.2.3, 1) = 1.3.0. A field at its maximum carries into the one before; nullopt when
// even the major number would overflow (no version lies above).
std::optional<Version> bump(const Version& v, int level) {
  uint64_t fields[] = {v.major, v.minor, v.patch};
  for (int i = level; i >= 0; --i) {
    if (fields[i] == kMaxNumber) continue;
    ++fields[i];
    for (int j = i + 1; j < 3; ++j) fields[j] = 0;
    return Version{fields[0], fields[1], fields[2], {}, {}};
  }
  return std::nullopt;
}

// X.Y.Z-0, the lowest version of X.Y.Z: "<2.0.0-0" keeps out 2.0.0's pre-releases too.
Version lowest_of(Version v) {
  v.prerelease = {"0"};
  return v;
}

}  // namespace

std::string Version::text() const {
  std::string out = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) out += (i == 0 ? "-" : ".") + prerelease[i];
  if (!build.empty()) out += "+" + build;
  return out;
}

std::optional<Version> parse_version(std::string_view text) {
  if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
  Version v;
  if (const size_t plus = text.find('+'); plus != std::string_view::npos) {
    if (!split_identifiers(text.substr(plus + 1), false, nullptr)) return std::nullopt;
    v.build = std::string(text.substr(plus + 1));
    text = text.substr(0, plus);
  }
  // The numbers hold no '-', so the first one starts the pre-release ("1.0.0-x-y" is {"x-y"}).
  if (const size_t dash = text.find('-'); dash != std::string_view::npos) {
    if (!split_identifiers(text.substr(dash + 1), true, &v.prerelease)) return std::nullopt;
    text = text.substr(0, dash);
  }
  uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
  for (int i = 0; i < 3; ++i) {
    const size_t dot = text.find('.');
    if ((i < 2) == (dot == std::string_view::npos)) return std::nullopt;  // exactly two dots
    auto n = parse_number(text.substr(0, dot));
    if (!n) return std::nullopt;
    *fields[i] = *n;
    text.remove_prefix(i < 2 ? dot + 1 : text.size());
  }
  return v;
}

int compare(const Version& a, const Version& b) {
  if (int c = compare_values(a.major, b.major)) return c;
  if (int c = compare_values(a.minor, b.minor)) return c;
  if (int c = compare_values(a.patch, b.patch)) return c;
  if (a.prerelease.empty() || b.prerelease.empty())  // a release is above its pre-releases
    return compare_values(a.prerelease.empty(), b.prerelease.empty());
  for (size_t i = 0; i < std::min(a.prerelease.size(), b.prerelease.size()); ++i)
    if (int c = compare_identifiers(a.prerelease[i], b.prerelease[i])) return c;
  return compare_values(a.prerelease.size(), b.prerelease.size());
}

Result<Constraint> Constraint::parse(std::string_view text) {
  if (text.find_first_not_of(kBlank) == std::string_view::npos)
    return Result<Constraint>::error("constraint " + quote(text) + ": empty (expected e.g. ^1.2.3, >=1.0.0 <2.0.0 or *)");
  Constraint constraint;
  std::string_view rest = text;
  while (true) {
    const size_t bars = rest.find("||");
    auto alternative = parse_alternative(rest.substr(0, bars), text);
    if (!alternative) return Result<Constraint>::error(alternative.message());
    constraint.alternatives_.push_back(std::move(alternative).value());
    if (bars == std::string_view::npos) return constraint;
    rest.remove_prefix(bars + 2);
  }
}

Result<Constraint::Alternative> Constraint::parse_alternative(std::string_view text, std::string_view whole) {
  Alternative out;
  bool any = false;
  while (true) {
    const size_t start = text.find_first_not_of(kBlank);
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    size_t end = std::min(text.find_first_of(kBlank), text.size());
    // ">= 1.2.3" is one comparator: an operator alone takes the next word as its version.
    if (text.substr(0, end).find_first_not_of(kOperatorChars) == std::string_view::npos) {
      const size_t next = text.find_first_not_of(kBlank, end);
      if (next != std::string_view::npos) end = std::min(text.find_first_of(kBlank, next), text.size());
    }
    if (auto status = add_comparator(text.substr(0, end), whole, out); !status) return status;
    any = true;
    text.remove_prefix(end);
  }
  if (!any)
    return Result<Alternative>::error("constraint " + quote(whole) +
                                      ": an alternative around \"||\" is empty (expected e.g. ^1.2.3 || ^2.0.0)");
  return out;
}

// Adds what `token` means as plain comparators, the way npm desugars ranges:
// ^1.2.3 -> >=1.2.3 <2.0.0-0, ~1.2 -> >=1.2.0 <1.3.0-0, <=1.2 -> <1.3.0-0, * -> nothing.
Status Constraint::add_comparator(std::string_view token, std::string_view whole, Alternative& out) {
  const std::string prefix = "constraint " + quote(whole) + ": ";
  const size_t split = std::min(token.find_first_not_of(kOperatorChars), token.size());
  const std::string_view op_text = token.substr(0, split);
  std::string_view version_text = token.substr(split);
  version_text.remove_prefix(std::min(version_text.find_first_not_of(kBlank), version_text.size()));
  if (token == "-") return Status::error(prefix + "hyphen ranges are not supported (expected e.g. >=1.2.3 <=2.0.0)");
  const std::string_view known[] = {"", "=", "==", "!=", ">", ">=", "<", "<=", "^", "~"};
  if (std::find(std::begin(known), std::end(known), op_text) == std::end(known))
    return Status::error(prefix + quote(op_text) + " is not an operator (expected one of = == != > >= < <= ^ ~)");
  if (version_text.empty())
    return Status::error(prefix + quote(op_text) + " needs a version after it (expected e.g. " + std::string(op_text) +
                         "1.2.3)");
  auto partial = parse_partial(version_text);
  if (!partial) return Status::error(prefix + quote(version_text) + " is not a version (expected e.g. 1.2.3)");
  const Version& v = partial->version;
  const int parts = partial->parts;
  const auto add = [&](Op op, Version bound) { out.push_back({op, std::move(bound)}); };
  const auto add_below = [&](std::optional<Version> bound) {  // no bound: nothing lies above
    if (bound) add(Op::kLt, lowest_of(std::move(*bound)));
  };
  const Version nothing = lowest_of(Version{});  // "<0.0.0-0" allows no version

  if (op_text == "!=") {
    if (parts < 3) return Status::error(prefix + quote(token) + " needs a full version (expected e.g. !=1.2.3)");
    add(Op::kNe, v);
  } else if (parts == 0) {  // "*": anything, except "<*" and ">*", which nothing satisfies
    if (op_text == "<" || op_text == ">") add(Op::kLt, nothing);
  } else if (op_text == "^") {
    // The first non-zero number given may not change: ^1.2 <2.0.0, ^0.2.3 <0.3.0, ^0.0.3 <0.0.4.
    const uint64_t fields[] = {v.major, v.minor, v.patch};
    int level = parts - 1;
    for (int i = 0; i < parts; ++i)
      if (fields[i] != 0) {
        level = i;
        break;
      }
    add(Op::kGe, v);
    add_below(bump(v, level));
  } else if (op_text == "~") {  // the minor may not change (~1.2.3 <1.3.0), or the major when only it is given
    add(Op::kGe, v);
    add_below(bump(v, parts == 1 ? 0 : 1));
  } else if (parts == 3) {
    const Op op = op_text == ">"    ? Op::kGt
                  : op_text == ">=" ? Op::kGe
                  : op_text == "<"  ? Op::kLt
                  : op_text == "<=" ? Op::kLe
                                    : Op::kEq;
    add(op, v);
  } else if (op_text == ">") {  // >1.2 means above every 1.2.z
    if (auto above = bump(v, parts - 1)) add(Op::kGe, *above);
    else add(Op::kLt, nothing);
  } else if (op_text == ">=") {
    add(Op::kGe, v);
  } else if (op_text == "<") {
    add(Op::kLt, lowest_of(v));
  } else if (op_text == "<=") {
    add_below(bump(v, parts - 1));
  } else {  // "1.2" or "=1.2": any 1.2.z
    add(Op::kGe, v);
    add_below(bump(v, parts - 1));
  }
  return Status::ok();
}

bool Constraint::holds(const Comparator& c, const Version& v) {
  const int order = compare(v, c.version);
  switch (c.op) {
    case Op::kEq: return order == 0;
    case Op::kNe: return order != 0;
    case Op::kGt: return order > 0;
    case Op::kGe: return order >= 0;
    case Op::kLt: return order < 0;
    case Op::kLe: return order <= 0;
  }
  return false;
}

bool Constraint::allows(const Version& version, bool include_prerelease) const {
  for (const Alternative& alternative : alternatives_) {
    if (!std::all_of(alternative.begin(), alternative.end(), [&](const Comparator& c) { return holds(c, version); }))
      continue;
    if (include_prerelease || version.prerelease.empty()) return true;
    const bool opted_in = std::any_of(alternative.begin(), alternative.end(), [&](const Comparator& c) {
      return !c.version.prerelease.empty() && c.version.major == version.major && c.version.minor == version.minor &&
             c.version.patch == version.patch;
    });
    if (opted_in) return true;
  }
  return false;
}

std::optional<std::string> latest_tag(const std::vector<std::string>& tags, bool include_prerelease,
                                      const Constraint* constraint) {
  const std::string* best_tag = nullptr;
  Version best;
  for (const std::string& tag : tags) {
    auto v = parse_version(tag);
    if (!v || (!include_prerelease && !v->prerelease.empty())) continue;
    if (constraint && !constraint->allows(*v, include_prerelease)) continue;
    int order = best_tag ? compare(*v, best) : 1;
    if (order == 0) order = compare_values(v->build, best.build);
    if (order == 0) order = compare_values(*best_tag, tag);  // "1.0.0" before "v1.0.0"
    if (order > 0) {
      best_tag = &tag;
      best = std::move(*v);
    }
  }
  if (!best_tag) return std::nullopt;
  return *best_tag;
}

std::optional<Version> latest(const std::vector<std::string>& tags, bool include_prerelease,
                              const Constraint* constraint) {
  auto tag = latest_tag(tags, include_prerelease, constraint);
  return tag ? parse_version(*tag) : std::nullopt;
}

}  // namespace cronhost::api
