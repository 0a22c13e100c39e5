#include "api/mysql_url.hpp"

#include <charconv>
#include <string_view>

#include "util/percent.hpp"

namespace cronhost::api {

Result<MysqlUrl> parse_mysql_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme_end == std::string::npos || (scheme != "mysql" && scheme != "mariadb"))
    return Result<MysqlUrl>::error("the URL must start with mysql:// or mariadb://");
  MysqlUrl out;
  std::string_view rest = std::string_view(url).substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.user = percent_decoded(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    host = authority.substr(1, close - 1);
    if (close != std::string_view::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  out.host = std::string(host.empty() ? "localhost" : host);
  if (!port.empty() &&
      (std::from_chars(port.data(), port.data() + port.size(), out.port).ptr != port.data() + port.size() ||
       out.port == 0 || out.port > 65535))
    return Result<MysqlUrl>::error("the port '" + std::string(port) + "' in the URL is not a number from 1 to 65535");
  if (!rest.empty() && rest.front() == '/') {
    const size_t path_end = rest.find_first_of("?#");
    out.database = percent_decoded(rest.substr(1, path_end == std::string_view::npos ? path_end : path_end - 1));
    rest = path_end == std::string_view::npos ? std::string_view{} : rest.substr(path_end);
  }
  if (!rest.empty() && rest.front() == '?') {
    std::string_view query = rest.substr(1, rest.find('#') == std::string_view::npos ? std::string_view::npos
                                                                                       : rest.find('#') - 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      const size_t eq = pair.find('=');
      const std::string_view key = pair.substr(0, eq);
      if (key != "socket" || eq == std::string_view::npos)
        return Result<MysqlUrl>::error("the URL option '" + std::string(key) + "' is unknown (expected socket=PATH)");
      out.socket = percent_decoded(pair.substr(eq + 1));
    }
  }
  if (out.user.empty()) return Result<MysqlUrl>::error("the URL names no user (expected mysql://user@host:port/database)");
  return out;
}

}  // namespace cronhost::api
