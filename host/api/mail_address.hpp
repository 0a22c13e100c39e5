// Mail addresses and header text as the host puts them on the wire: a recipient is exactly
// one RFC 5322 mailbox (addr-spec, or display name and <addr-spec>), so the address that
// allow.mail matches is the one on the envelope and the one the To: header shows.
// Pure functions; safe from any thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace cronhost::api {

struct Mailbox {
  std::string display;  // unquoted, may be empty; never holds '@', '<', '>', '"' or '\'
  std::string address;  // local@domain: a dot-atom or quoted local part, a domain of labels
};

// "ops@acme.test", "Ops Desk <ops@acme.test>", "\"Desk, Ops\" <ops@acme.test>". Refused,
// saying why: control characters anywhere, no or more than one '@' (quoted or not), '%' or
// '!' in the local part (relays may route through them), an address-like display name,
// domain literals ([127.0.0.1]) and domains that are not letter-digit-hyphen labels.
Result<Mailbox> parse_mailbox(std::string_view text);

// "Ops <ops@acme.test>" -> "ops@acme.test"; nothing when it is not an address (or holds a
// line break, which could inject headers).
std::optional<std::string> mail_address(std::string_view text);

// For a header: "Ops Desk <ops@acme.test>", "\"Dr. Who\" <who@acme.test>", non-ASCII display
// names RFC 2047-encoded, or the bare address.
std::string format_mailbox(const Mailbox& mailbox);

// RFC 2047: text with non-ASCII bytes travels as =?UTF-8?B?...?=.
std::string header_text(std::string_view text);

bool has_control_characters(std::string_view text);  // any byte < 0x20 or 0x7F, tabs too

}  // namespace cronhost::api
