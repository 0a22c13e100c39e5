#include "api/permissions.hpp"

#include <algorithm>
#include <curl/curl.h>
#include <memory>

#include "api/mail_address.hpp"
#include "api/url_path.hpp"
#include "util/glob.hpp"
#include "util/http_header.hpp"

namespace cronhost::api {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string denied(const config::JobSpec& job, std::string_view key, std::string_view what) {
  return std::string(key) + ": " + std::string(what) + " is not allowed for job " + job.name + " (allow." +
         std::string(key) + ")";
}

struct UrlParts {
  std::string scheme, host, port, path;
};

// An allow.http pattern: scheme://host[:port][/path]; the host may start with "*.", the
// path may hold '*'. Patterns are not URLs, so they are split by hand.
UrlParts split_pattern(std::string_view pattern) {
  UrlParts parts;
  const size_t scheme_end = pattern.find("://");
  parts.scheme = lower(std::string(pattern.substr(0, scheme_end)));
  std::string_view rest = pattern.substr(scheme_end + 3);
  const size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  parts.path = path_start == std::string_view::npos ? "" : std::string(rest.substr(path_start));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    parts.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  parts.host = lower(std::string(authority));
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

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string url_part(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, flags) != CURLUE_OK || !text) return {};
  std::string out(text);
  curl_free(text);
  return out;
}

}  // namespace

namespace {

struct HttpUrl {
  UrlParts parts;          // scheme and host in lower case, the port always, the path normalized
  std::string normalized;  // the URL to request
};

Result<HttpUrl> parse_http_url(std::string_view url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  const std::string text(url);
  if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK)
    return Result<HttpUrl>::error("not a valid URL: " + escape_controls(text));
  HttpUrl out{{lower(url_part(parsed.get(), CURLUPART_SCHEME)), lower(url_part(parsed.get(), CURLUPART_HOST)),
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

Status check_mail(const config::JobSpec& job, const std::vector<std::string>& recipients) {
  if (job.allow.mail_anyone) return Status::ok();
  if (job.allow.mail.empty()) return Status::error(denied(job, "mail", "sending mail"));
  for (const auto& recipient : recipients) {
    // The address on the envelope is what is matched: one strict addr-spec, so that
    // "evil@x.test@acme.test" cannot pass for *@acme.test.
    auto mailbox = parse_mailbox(recipient);
    if (!mailbox)
      return Status::error("mail: recipient '" + escape_controls(recipient) + "' is not an email address: " +
                           mailbox.message());
    const std::string address = lower(mailbox->address);
    const size_t at = address.rfind('@');
    const bool ok = std::any_of(job.allow.mail.begin(), job.allow.mail.end(), [&](const std::string& text) {
      const std::string pattern = lower(text);
      const size_t pattern_at = pattern.rfind('@');
      if (pattern_at == std::string::npos) return glob_match(pattern, address);
      // Local part and domain each match their own half; a '*' never spans the '@'.
      return glob_match(pattern.substr(0, pattern_at), address.substr(0, at)) &&
             glob_match(pattern.substr(pattern_at + 1), address.substr(at + 1));
    });
    if (!ok) return Status::error(denied(job, "mail", "recipient " + mailbox->address));
  }
  return Status::ok();
}

Status check_db(const config::JobSpec& job, std::string_view name) {
  if (std::find(job.allow.db.begin(), job.allow.db.end(), name) != job.allow.db.end()) return Status::ok();
  return Status::error(denied(job, "db", "database " + std::string(name)));
}

Status check_storage(const config::JobSpec& job, std::string_view name) {
  if (std::find(job.allow.storage.begin(), job.allow.storage.end(), name) != job.allow.storage.end()) return Status::ok();
  return Status::error(denied(job, "storage", "store " + std::string(name)));
}

Status check_registry(const config::JobSpec& job, std::string_view image) {
  for (const auto& pattern : job.allow.registry)
    if (glob_match(pattern, image)) return Status::ok();
  return Status::error(denied(job, "registry", std::string(image)));
}

bool may_use_approvals_of(const config::JobSpec& job, std::string_view owner) {
  if (!owner.empty() && owner == job.name) return true;
  return std::any_of(job.allow.approvals.begin(), job.allow.approvals.end(),
                     [&](const std::string& named) { return named == "*" || (!owner.empty() && named == owner); });
}

std::optional<std::vector<std::string>> approval_owners(const config::JobSpec& job) {
  const auto& named = job.allow.approvals;
  if (std::find(named.begin(), named.end(), "*") != named.end()) return std::nullopt;
  std::vector<std::string> owners{job.name};
  owners.insert(owners.end(), named.begin(), named.end());
  return owners;
}

}  // namespace cronhost::api
