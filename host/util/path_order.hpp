// The order std::filesystem::path sorts in (element by element), on plain strings: a
// separator sorts before any other character, so "a/b" < "a.b" < "ab". Comparing fs::path
// objects splits both into elements on every comparison; sorting 100,000 job files that way
// took ~0.3 s of a host's start.
#pragma once
#include <algorithm>
#include <string_view>

namespace cronhost {

inline bool path_order_less(std::string_view a, std::string_view b) {
  const auto differ = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  if (differ.second == b.end()) return false;  // b is a prefix of a, or equal
  if (differ.first == a.end()) return true;    // a is a proper prefix of b
  if (*differ.first == '/') return true;
  if (*differ.second == '/') return false;
  return static_cast<unsigned char>(*differ.first) < static_cast<unsigned char>(*differ.second);
}

}  // namespace cronhost
