// A URL path as allowlists match it and servers read it: RFC 3986 normalization (6.2.2),
// so that "/hooks/%2e%2e/admin" is matched as "/admin", and is then requested as "/admin".
// Pure function; safe from any thread.
#pragma once
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace cronhost::api {

// `path` as curl splits it from a URL (starting with '/', still percent-encoded). Returns it
// with unreserved characters decoded (%7E -> ~, %2E -> .), other escapes in upper case, and
// dot segments removed after decoding. Refuses, saying why, what servers decode differently:
// an encoded '/' or '\' (%2F, %5C), a '\', a double-encoded '.', '/' or '\' (%252E), a
// '.' or '..' segment with ;parameters ("..;/" is ".." to Tomcat), and a '%' without two hex
// digits after it.
Result<std::string> normalize_url_path(std::string_view path);

}  // namespace cronhost::api
