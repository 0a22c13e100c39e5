#include "util/http_header.hpp"

#include <algorithm>
#include <cstdio>
#include <strings.h>

namespace cronhost {
namespace {

// RFC 7230 3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
// "_" / "`" / "|" / "~" / DIGIT / ALPHA
bool is_token_char(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The client writes these from the URL and the body (Host, Content-Length, Transfer-Encoding)
// or they steer the connection (RFC 7230 6.1 hop-by-hop headers); a job's copy could make the
// server read a different message than the one allow.http approved.
bool owned_by_client(std::string_view name) {
  constexpr std::string_view kOwned[] = {"Host", "Connection", "Keep-Alive", "TE", "Trailer",
                                         "Transfer-Encoding", "Upgrade", "Content-Length"};
  if (std::any_of(std::begin(kOwned), std::end(kOwned), [&](std::string_view o) { return equals_ignoring_case(o, name); }))
    return true;
  return name.size() >= 6 && equals_ignoring_case(name.substr(0, 6), "Proxy-");
}

}  // namespace

std::string escape_controls(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == 0) out += "\\0";
    else if (c < 0x20 || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Status check_request_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return is_token_char(c); }))
    return Status::error("header name '" + escape_controls(name) +
                         "' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)");
  if (owned_by_client(name)) return Status::error("header '" + std::string(name) + "' is set by the HTTP client, never by a job");
  if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return is_control(c); }))
    return Status::error("header '" + std::string(name) +
                         "': its value holds a control character (only visible characters, spaces and tabs are allowed)");
  return Status::ok();
}

std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line) {
  const size_t colon = line.find(':');
  if (line.rfind("HTTP/", 0) == 0 || colon == std::string_view::npos) return std::nullopt;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  return std::make_pair(std::move(name), std::string(value));
}

}  // namespace cronhost
