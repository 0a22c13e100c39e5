// Azure Storage's Shared Key authorization for the Blob service (the "Authorize with Shared
// Key" document, version 2009-09-19 and later): the string to sign from the request's verb,
// standard headers, x-ms- headers and resource, signed with HMAC-SHA256 under the account
// key. Plain functions; thread-safe.
#pragma once
#include <string>
#include <string_view>

#include "api/http_client.hpp"
#include "util/status.hpp"

namespace cronhost::api {

// `url` as it is sent (path encoded, query included), `headers` all that are sent (names in
// lower case; Content-Length given when the body is not empty).
std::string shared_key_string_to_sign(std::string_view method, std::string_view account, std::string_view url,
                                      const Headers& headers);
// "SharedKey ACCOUNT:SIGNATURE"; an error when the key is not base64.
Result<std::string> shared_key_authorization(std::string_view method, std::string_view account,
                                             std::string_view key_base64, std::string_view url, const Headers& headers);

}  // namespace cronhost::api
