#include "api/url_path.hpp"

#include <cctype>
#include <vector>

namespace cronhost::api {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~" mean the same encoded or not.
bool is_unreserved(unsigned char c) { return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

bool is_separator(int byte) { return byte == '/' || byte == '\\'; }

// The byte %XX at text[i] encodes, or -1.
int escaped_byte(std::string_view text, size_t i) {
  if (i + 2 >= text.size() || text[i] != '%') return -1;
  const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

const char kSeparatorRefused[] =
    "an encoded '/' or '\\' (%2F, %5C), a '\\', or a double-encoded '.', '/' or '\\' (%252E, %252F, %255C) "
    "in the path is refused";

}  // namespace

Result<std::string> normalize_url_path(std::string_view path) {
  // Decode what may be decoded; refuse what a server might decode into a separator.
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '\\') return Result<std::string>::error(kSeparatorRefused);
    if (c != '%') {
      decoded += c;
      continue;
    }
    const int byte = escaped_byte(path, i);
    if (byte < 0) return Result<std::string>::error("a '%' not followed by two hex digits in the path is refused");
    if (is_separator(byte)) return Result<std::string>::error(kSeparatorRefused);
    if (byte == '%') {  // %25 then XY: refused when %XY, decoded a second time, is '.', '/' or '\'
      const int twice = i + 4 < path.size() ? escaped_byte("%" + std::string(path.substr(i + 3, 2)), 0) : -1;
      if (twice == '.' || is_separator(twice)) return Result<std::string>::error(kSeparatorRefused);
    }
    if (is_unreserved(static_cast<unsigned char>(byte))) {
      decoded += static_cast<char>(byte);
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      decoded += '%';
      decoded += kHex[byte >> 4];
      decoded += kHex[byte & 15];
    }
    i += 2;
  }

  // RFC 3986 5.2.4, segment by segment: "." stays in place, ".." removes the one before.
  std::vector<std::string_view> kept;
  std::string_view rest(decoded);
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  for (bool last = false; !last;) {
    const size_t slash = rest.find('/');
    last = slash == std::string_view::npos;
    const std::string_view segment = rest.substr(0, slash);
    rest = last ? std::string_view() : rest.substr(slash + 1);
    const std::string_view bare = segment.substr(0, segment.find(';'));
    if ((bare == "." || bare == "..") && bare.size() != segment.size())
      return Result<std::string>::error("a '.' or '..' segment with ;parameters in the path is refused");
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    }
    if (segment == "." || segment == "..") {
      if (last) kept.emplace_back();  // "/a/b/.." is "/a/", a folder
      continue;
    }
    kept.push_back(segment);
  }
  std::string out;
  for (const auto& segment : kept) {
    out += '/';
    out += segment;
  }
  return out.empty() ? std::string("/") : out;
}

}  // namespace cronhost::api
