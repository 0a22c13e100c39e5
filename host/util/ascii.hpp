// ASCII case folding for names that are case-insensitive on the wire (schemes, hosts, mail
// addresses): bytes outside A-Z are left as they are, whatever the locale.
#pragma once
#include <string>

namespace cronhost {

inline std::string ascii_lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

}  // namespace cronhost
