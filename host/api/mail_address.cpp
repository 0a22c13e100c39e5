#include "api/mail_address.hpp"

#include <algorithm>
#include <cctype>

#include "util/base64.hpp"

namespace cronhost::api {
namespace {

using Refused = Result<Mailbox>;

// RFC 5322 3.2.3 atext.
bool is_atext(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.' || text.find("..") != std::string_view::npos) return false;
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return c == '.' || is_atext(c); });
}

// Letter-digit-hyphen labels (RFC 1035 2.3.1, digits first allowed by RFC 1123).
bool is_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  for (size_t start = 0;;) {
    const size_t dot = domain.find('.', start);
    const std::string_view label = domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](unsigned char c) { return std::isalnum(c) || c == '-'; }))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

Result<std::string> parse_addr_spec(std::string_view text) {
  if (std::count(text.begin(), text.end(), '@') > 1) return Result<std::string>::error("more than one '@'");
  const size_t at = text.find('@');
  if (at == std::string_view::npos) return Result<std::string>::error("no '@'");
  const std::string_view local = text.substr(0, at), domain = text.substr(at + 1);
  const bool quoted = local.size() >= 2 && local.front() == '"' && local.back() == '"';
  const std::string_view inner = quoted ? local.substr(1, local.size() - 2) : local;
  if (inner.find_first_of("%!") != std::string_view::npos)
    return Result<std::string>::error("'%' or '!' routes mail through a host");
  const bool local_ok = quoted ? !inner.empty() && inner.find_first_of("\"\\") == std::string_view::npos &&
                                     std::all_of(inner.begin(), inner.end(), [](unsigned char c) { return c < 0x80; })
                               : is_dot_atom(local);
  if (!local_ok) return Result<std::string>::error("the local part must be dot-separated words or a quoted string");
  if (!is_domain(domain)) return Result<std::string>::error("the domain must be labels of letters, digits and '-'");
  return std::string(text);
}

}  // namespace

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::string header_text(std::string_view text) {
  const bool ascii = std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; });
  return ascii ? std::string(text) : "=?UTF-8?B?" + base64_encode(text) + "?=";
}

Result<Mailbox> parse_mailbox(std::string_view text) {
  if (has_control_characters(text)) return Refused::error("it holds a control character");
  text = trim(text);
  Mailbox mailbox;
  std::string_view spec = text;
  if (!text.empty() && text.back() == '>') {
    const size_t open = text.rfind('<');
    if (open == std::string_view::npos) return Refused::error("a '>' without '<'");
    spec = text.substr(open + 1, text.size() - open - 2);
    std::string_view display = trim(text.substr(0, open));
    const bool quoted = display.size() >= 2 && display.front() == '"' && display.back() == '"';
    if (quoted) display = display.substr(1, display.size() - 2);
    for (const char special : std::string_view(quoted ? "@<>\"\\" : "@<>\"\\,;:"))
      if (display.find(special) != std::string_view::npos)
        return Refused::error(std::string("the display name holds '") + special + "'" +
                              (quoted || special == '@' || special == '<' || special == '>' ? "" : " (quote it)"));
    mailbox.display = std::string(display);
  }
  auto address = parse_addr_spec(spec);
  if (!address) return Refused::error(address.message());
  mailbox.address = std::move(address).value();
  return mailbox;
}

std::string format_mailbox(const Mailbox& mailbox) {
  if (mailbox.display.empty()) return mailbox.address;
  const bool plain = std::all_of(mailbox.display.begin(), mailbox.display.end(),
                                 [](unsigned char c) { return c == ' ' || (c < 0x80 && is_atext(c)); });
  const bool ascii = std::all_of(mailbox.display.begin(), mailbox.display.end(), [](unsigned char c) { return c < 0x80; });
  const std::string display = plain ? mailbox.display : ascii ? "\"" + mailbox.display + "\"" : header_text(mailbox.display);
  return display + " <" + mailbox.address + ">";
}

std::optional<std::string> mail_address(std::string_view text) {
  auto mailbox = parse_mailbox(text);
  if (!mailbox) return std::nullopt;
  return std::move(mailbox).value().address;
}

}  // namespace cronhost::api
