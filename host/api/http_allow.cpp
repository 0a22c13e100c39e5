// allow.http: URLs are parsed by libcurl's URL API (as the request will read them) and matched
// against the job's patterns. Apart from permissions.cpp so that code checking only the other
// allowlists (the job loader, the one-shot commands) does not link libcurl.
#include <curl/curl.h>
#include <dlfcn.h>

#include <memory>
#include <type_traits>

#include "api/permissions.hpp"
#include "api/url_path.hpp"
#include "util/ascii.hpp"
#include "util/glob.hpp"
#include "util/http_header.hpp"

namespace cronhost::api {
namespace {

struct UrlParts {
  std::string scheme, host, port, path;
};

// An allow.http pattern: scheme://host[:port][/path]; the host may start with "*.", the
// path may hold '*'. Patterns are not URLs, so they are split by hand.
UrlParts split_pattern(std::string_view pattern) {
  UrlParts parts;
  const size_t scheme_end = pattern.find("://");
  parts.scheme = ascii_lower(std::string(pattern.substr(0, scheme_end)));
  std::string_view rest = pattern.substr(scheme_end + 3);
  const size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  parts.path = path_start == std::string_view::npos ? "" : std::string(rest.substr(path_start));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    parts.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  parts.host = ascii_lower(std::string(authority));
  if (parts.port.empty()) parts.port = parts.scheme == "https" ? "443" : "80";
  return parts;
}

bool path_allowed(const std::string& pattern, const std::string& path) {
  if (pattern.empty() || pattern == "/" || pattern == "/*") return true;
  if (pattern.find('*') != std::string::npos) return glob_match(pattern, path);
  if (path.compare(0, pattern.size(), pattern) != 0) return false;
  // A prefix ends at a segment: /hooks allows /hooks and /hooks/x, not /hooksmith.
  return path.size() == pattern.size() || pattern.back() == '/' || path[pattern.size()] == '/';
}

bool url_allowed(const std::string& pattern_text, const UrlParts& url) {
  const UrlParts pattern = split_pattern(pattern_text);
  if (pattern.scheme != url.scheme || pattern.port != url.port) return false;
  const bool host_ok = pattern.host.rfind("*.", 0) == 0
                           ? url.host.size() > pattern.host.size() - 1 &&
                                 url.host.compare(url.host.size() - (pattern.host.size() - 1), std::string::npos,
                                                  pattern.host, 1) == 0
                           : pattern.host == url.host;
  return host_ok && path_allowed(pattern.path, url.path);
}

// libcurl's URL API, looked up on first use rather than linked, so that code checking job files
// does not need libcurl linked (the unit tests of the loader). The host binary links libcurl,
// and uses that one; bin/cronhost (static) must never get here: it reads no job file.
struct CurlUrlApi {
  decltype(&::curl_url) create = nullptr;
  decltype(&::curl_url_set) set = nullptr;
  decltype(&::curl_url_get) get = nullptr;
  decltype(&::curl_url_cleanup) cleanup = nullptr;
  decltype(&::curl_free) free = nullptr;
  std::string error;  // why it could not be opened
};

const CurlUrlApi& curl_url_api() {
  static const CurlUrlApi api = [] {
    CurlUrlApi out;
    // The libcurl this process already has (the host binary links it), else the one its
    // package installs: ABI 4 (since 7.16), OpenSSL or GnuTLS flavour.
    void* lib = ::dlsym(RTLD_DEFAULT, "curl_url") ? RTLD_DEFAULT : nullptr;
    for (const char* name : {"libcurl.so.4", "libcurl-gnutls.so.4"})
      if (!lib) lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      out.error = std::string("libcurl could not be loaded to read the URL: ") + ::dlerror();
      return out;
    }
    const auto bind = [lib](auto& fn, const char* name) { fn = reinterpret_cast<std::decay_t<decltype(fn)>>(::dlsym(lib, name)); };
    bind(out.create, "curl_url");
    bind(out.set, "curl_url_set");
    bind(out.get, "curl_url_get");
    bind(out.cleanup, "curl_url_cleanup");
    bind(out.free, "curl_free");
    if (!out.create || !out.set || !out.get || !out.cleanup || !out.free)
      out.error = "libcurl could not be loaded to read the URL: it has no URL API (curl_url)";
    return out;
  }();
  return api;
}

std::string url_part(CURLU* url, CURLUPart part, unsigned flags = 0) {
  const CurlUrlApi& curl = curl_url_api();
  char* text = nullptr;
  if (curl.get(url, part, &text, flags) != CURLUE_OK || !text) return {};
  std::string out(text);
  curl.free(text);
  return out;
}

struct HttpUrl {
  UrlParts parts;          // scheme and host in lower case, the port always, the path normalized
  std::string normalized;  // the URL to request
};

Result<HttpUrl> parse_http_url(std::string_view url) {
  const CurlUrlApi& curl = curl_url_api();
  if (!curl.error.empty()) return Result<HttpUrl>::error(curl.error);
  std::unique_ptr<CURLU, decltype(curl.cleanup)> parsed(curl.create(), curl.cleanup);
  const std::string text(url);
  if (curl.set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK)
    return Result<HttpUrl>::error("not a valid URL: " + escape_controls(text));
  HttpUrl out{{ascii_lower(url_part(parsed.get(), CURLUPART_SCHEME)), ascii_lower(url_part(parsed.get(), CURLUPART_HOST)),
               url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT), url_part(parsed.get(), CURLUPART_PATH)},
              {}};
  if (out.parts.scheme != "http" && out.parts.scheme != "https")
    return Result<HttpUrl>::error("only http and https URLs are supported, not " + text);
  if (!url_part(parsed.get(), CURLUPART_USER).empty())
    return Result<HttpUrl>::error("put credentials in headers, not in the URL");
  // Matched as the server will read it, and then requested exactly so.
  auto path = normalize_url_path(out.parts.path);
  if (!path) return Result<HttpUrl>::error(escape_controls(text) + ": " + path.message());
  out.parts.path = std::move(path).value();
  // Spliced into curl's URL by hand: setting CURLUPART_PATH would lower-case the escapes.
  const std::string whole = url_part(parsed.get(), CURLUPART_URL);
  const size_t path_start = whole.find('/', whole.find("://") + 3);
  const size_t path_end = whole.find_first_of("?#", path_start);
  out.normalized = whole.substr(0, path_start) + out.parts.path +
                   (path_end == std::string::npos ? "" : whole.substr(path_end));
  return out;
}

}  // namespace

Result<std::string> normalize_http_url(std::string_view url) {
  auto parsed = parse_http_url(url);
  if (!parsed) return Result<std::string>::error(parsed.message());
  return parsed->normalized;
}

Result<std::string> check_http(const config::JobSpec& job, std::string_view url) {
  auto parsed = parse_http_url(url);
  if (!parsed) return Result<std::string>::error(parsed.message());
  for (const auto& pattern : job.allow.http)
    if (url_allowed(pattern, parsed->parts)) return parsed->normalized;
  return Result<std::string>::error(denied(job, "http", parsed->normalized));
}

}  // namespace cronhost::api
