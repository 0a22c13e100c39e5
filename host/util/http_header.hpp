// Which request headers a job may send. A header's name and value go onto the wire as they
// are, so CR or LF in either would end the header and start another one, or a second request
// on a reused connection (to a path allow.http never saw). Headers that frame the message or
// name its host belong to the HTTP client. Pure functions; safe from any thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "util/status.hpp"

namespace cronhost {

// Ok for a name that is an RFC 7230 token, with a value of visible characters, spaces and
// tabs (and bytes >= 0x80), that is not one of Host, Connection, Keep-Alive, Proxy-*, TE,
// Trailer, Transfer-Encoding, Upgrade or Content-Length. The error names the header (with
// control characters shown escaped) and never shows the value, which may be a secret.
Status check_request_header(std::string_view name, std::string_view value);

// One response header line ("Name: value\r\n") as its lower-case name and trimmed value;
// nothing for a status line, the blank line or a line without a colon.
std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line);

// `text` with control characters shown as \r, \n, \t, \0 or \xHH, for error messages.
std::string escape_controls(std::string_view text);

}  // namespace cronhost
