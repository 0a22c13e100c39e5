#include "api/azure_shared_key.hpp"

#include <algorithm>
#include <map>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/base64.hpp"
#include "util/percent.hpp"

namespace cronhost::api {
namespace {

std::string header_value(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return {};
}

// "/account/path" and then each query parameter, lower-case names sorted, "\nname:value"
// with the value decoded (several values of one name joined by commas, sorted).
std::string canonical_resource(std::string_view account, std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t path_at = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  std::string_view path = path_at == std::string_view::npos ? "/" : url.substr(path_at);
  std::string_view query;
  if (const size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  std::string out = "/" + std::string(account) + std::string(path);
  std::map<std::string, std::vector<std::string>> params;
  for (size_t start = 0; start < query.size();) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, amp - start);
    const size_t eq = pair.find('=');
    std::string name = percent_decoded(pair.substr(0, eq));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    params[name].push_back(eq == std::string_view::npos ? "" : percent_decoded(pair.substr(eq + 1)));
    start = amp + 1;
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

}  // namespace

std::string shared_key_string_to_sign(std::string_view method, std::string_view account, std::string_view url,
                                      const Headers& headers) {
  std::string length = header_value(headers, "content-length");
  if (length == "0") length.clear();  // since version 2015-02-21 an empty body signs as ""
  std::string out = std::string(method) + "\n";
  for (const std::string& value : {header_value(headers, "content-encoding"), header_value(headers, "content-language"),
                                   length, header_value(headers, "content-md5"), header_value(headers, "content-type"),
                                   header_value(headers, "date"), header_value(headers, "if-modified-since"),
                                   header_value(headers, "if-match"), header_value(headers, "if-none-match"),
                                   header_value(headers, "if-unmodified-since"), header_value(headers, "range")})
    out += value + "\n";
  std::map<std::string, std::string> ms;
  for (const auto& [name, value] : headers)
    if (name.rfind("x-ms-", 0) == 0) ms[name] = value;
  for (const auto& [name, value] : ms) out += name + ":" + value + "\n";
  return out + canonical_resource(account, url);
}

Result<std::string> shared_key_authorization(std::string_view method, std::string_view account,
                                             std::string_view key_base64, std::string_view url, const Headers& headers) {
  const auto key = base64_decode(key_base64);
  if (!key || key->empty()) return Status::error("the account key is not base64");
  const std::string text = shared_key_string_to_sign(method, account, url, headers);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &size);
  return "SharedKey " + std::string(account) + ":" + base64_encode(std::string_view(reinterpret_cast<char*>(mac), size));
}

}  // namespace cronhost::api
