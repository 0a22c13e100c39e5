#include <catch2/catch.hpp>

#include "api/permissions.hpp"

using namespace cronhost;

namespace {

config::JobSpec job_allowing(config::Allowlist allow) {
  config::JobSpec job{.name = "version-check", .file = "jobs.d/version-check.yaml",
                      .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::utc())};
  job.allow = std::move(allow);
  return job;
}

std::string http_error(const config::JobSpec& job, const std::string& url) {
  auto r = api::check_http(job, url);
  return r ? "allowed " + r.value() : r.message();
}

}  // namespace

TEST_CASE("allow.http: scheme, host, port and path prefix at a segment") {
  const auto job = job_allowing({.http = {"https://ghcr.io", "http://127.0.0.1:8080/hooks/*", "https://*.acme.test/api"}});
  CHECK(http_error(job, "https://ghcr.io/v2/acme/app/tags/list") == "allowed https://ghcr.io/v2/acme/app/tags/list");
  CHECK(http_error(job, "https://GHCR.io:443/x") == "allowed https://GHCR.io:443/x");
  CHECK(http_error(job, "https://evil.example/") == "http: https://evil.example/ is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "https://ghcr.io.evil.example/") ==
        "http: https://ghcr.io.evil.example/ is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "http://ghcr.io/") == "http: http://ghcr.io/ is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "https://ghcr.io:8443/") ==
        "http: https://ghcr.io:8443/ is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "http://127.0.0.1:8080/hooks/deploy").rfind("allowed", 0) == 0);
  CHECK(http_error(job, "http://127.0.0.1:8080/admin") ==
        "http: http://127.0.0.1:8080/admin is not allowed for job version-check (allow.http)");
  // Dot segments are resolved before the check, and the resolved URL is what gets requested.
  CHECK(http_error(job, "http://127.0.0.1:8080/hooks/../admin") ==
        "http: http://127.0.0.1:8080/admin is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "https://api.acme.test/api/v1").rfind("allowed", 0) == 0);
  CHECK(http_error(job, "https://api.acme.test/apix") ==
        "http: https://api.acme.test/apix is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "https://acme.test/api") ==
        "http: https://acme.test/api is not allowed for job version-check (allow.http)");
  CHECK(http_error(job, "ftp://ghcr.io/x") == "only http and https URLs are supported, not ftp://ghcr.io/x");
  CHECK(http_error(job, "https://user:pw@ghcr.io/") == "put credentials in headers, not in the URL");
  CHECK(http_error(job, "not a url") == "not a valid URL: not a url");
}

TEST_CASE("allow.mail, allow.db and allow.registry") {
  const auto none = job_allowing({});
  CHECK(api::check_mail(none, {"a@acme.test"}).message() == "mail: sending mail is not allowed for job version-check (allow.mail)");
  CHECK(api::check_mail(job_allowing({.mail_anyone = true}), {"x@y.z"}).is_ok());
  const auto some = job_allowing({.mail = {"*@acme.test"}});
  CHECK(api::check_mail(some, {"Ops@ACME.test", "dev@acme.test"}).is_ok());
  CHECK(api::check_mail(some, {"ops@acme.test", "boss@evil.test"}).message() ==
        "mail: recipient boss@evil.test is not allowed for job version-check (allow.mail)");
  const auto db = job_allowing({.db = {"app"}});
  CHECK(api::check_db(db, "app").is_ok());
  CHECK(api::check_db(db, "billing").message() == "db: database billing is not allowed for job version-check (allow.db)");
  const auto reg = job_allowing({.registry = {"ghcr.io/acme/*"}});
  CHECK(api::check_registry(reg, "ghcr.io/acme/app").is_ok());
  CHECK(api::check_registry(reg, "ghcr.io/other/app").message() ==
        "registry: ghcr.io/other/app is not allowed for job version-check (allow.registry)");
}


// Issue 12, item 7: what is matched is what the server sees. Percent-encoded dots are decoded
// and resolved before matching; encoded separators, which servers decode differently, are
// refused; the normalized URL is the one requested.
TEST_CASE("allow.http: percent-encoded dot segments and separators cannot leave an allowed path", "[security]") {
  const auto job = job_allowing({.http = {"http://127.0.0.1:8080/hooks/*", "http://[::1]:8080/hooks", "https://ghcr.io/v2"}});
  const std::string not_allowed = " is not allowed for job version-check (allow.http)";
  const std::string separator =
      ": an encoded '/' or '\\' (%2F, %5C), a '\\', or a double-encoded '.', '/' or '\\' (%252E, %252F, %255C) in the "
      "path is refused";
  const std::pair<std::string, std::string> rows[] = {
      // every trick in the issue
      {"http://127.0.0.1:8080/hooks/%2e%2e/admin", "http: http://127.0.0.1:8080/admin" + not_allowed},
      {"http://127.0.0.1:8080/hooks/.%2e/admin", "http: http://127.0.0.1:8080/admin" + not_allowed},
      {"http://127.0.0.1:8080/hooks/%2e./admin", "http: http://127.0.0.1:8080/admin" + not_allowed},
      {"http://127.0.0.1:8080/hooks/..%2fadmin", "http://127.0.0.1:8080/hooks/..%2fadmin" + separator},
      {"http://127.0.0.1:8080/hooks/..%5cadmin", "http://127.0.0.1:8080/hooks/..%5cadmin" + separator},
      // mixed case, deeper climbs, a dot segment last
      {"http://127.0.0.1:8080/hooks/%2E%2e/admin", "http: http://127.0.0.1:8080/admin" + not_allowed},
      {"http://127.0.0.1:8080/hooks/x/%2e%2E/%2E%2e/%2e%2e/admin", "http: http://127.0.0.1:8080/admin" + not_allowed},
      {"http://127.0.0.1:8080/hooks/%2e%2e", "http: http://127.0.0.1:8080/" + not_allowed},
      {"http://127.0.0.1:8080/hooks/..%2F..%2Fadmin", "http://127.0.0.1:8080/hooks/..%2F..%2Fadmin" + separator},
      {"http://127.0.0.1:8080/hooks/..%5C..%5Cadmin", "http://127.0.0.1:8080/hooks/..%5C..%5Cadmin" + separator},
      {"http://127.0.0.1:8080/hooks/..\\admin", "http://127.0.0.1:8080/hooks/..\\admin" + separator},
      // double encoding: a server or proxy that decodes twice would see '..' and '/'
      {"http://127.0.0.1:8080/hooks/%252e%252e/admin", "http://127.0.0.1:8080/hooks/%252e%252e/admin" + separator},
      {"http://127.0.0.1:8080/hooks/..%252fadmin", "http://127.0.0.1:8080/hooks/..%252fadmin" + separator},
      {"http://127.0.0.1:8080/hooks/%255C", "http://127.0.0.1:8080/hooks/%255C" + separator},
      // ;parameters on a dot segment (Tomcat and others read "..;" as "..")
      {"http://127.0.0.1:8080/hooks/..;/admin",
       "http://127.0.0.1:8080/hooks/..;/admin: a '.' or '..' segment with ;parameters in the path is refused"},
      {"http://127.0.0.1:8080/hooks/%2e%2e;x=1/admin",
       "http://127.0.0.1:8080/hooks/%2e%2e;x=1/admin: a '.' or '..' segment with ;parameters in the path is refused"},
      {"http://127.0.0.1:8080/hooks;x/deploy", "http: http://127.0.0.1:8080/hooks;x/deploy" + not_allowed},
      // a query or fragment is not the path
      {"http://127.0.0.1:8080/admin?next=/hooks/x", "http: http://127.0.0.1:8080/admin?next=/hooks/x" + not_allowed},
      {"http://127.0.0.1:8080/admin#/hooks/x", "http: http://127.0.0.1:8080/admin#/hooks/x" + not_allowed},
      // userinfo that looks like the allowed host
      {"http://127.0.0.1:8080@evil.test/hooks/x", "put credentials in headers, not in the URL"},
      {"http://127.0.0.1:8080/HOOKS/x", "http: http://127.0.0.1:8080/HOOKS/x" + not_allowed},
      {"http://127.0.0.1:8081/hooks/x", "http: http://127.0.0.1:8081/hooks/x" + not_allowed},
      // IPv6 hosts
      {"http://[::1]:8080/hooks/%2e%2e/admin", "http: http://[::1]:8080/admin" + not_allowed},
      {"http://[::1]:8080/hooks%2f..%2fadmin", "http://[::1]:8080/hooks%2f..%2fadmin" + separator},
      {"https://ghcr.io/v2/%2e%2e/%2e%2e/etc/passwd", "http: https://ghcr.io/etc/passwd" + not_allowed},
      {"http://127.0.0.1:8080/hooks/a%zz", "http://127.0.0.1:8080/hooks/a%zz: a '%' not followed by two hex digits in the path is refused"},
      // what stays allowed, sent as normalized: unreserved characters decoded, hex upper case
      {"http://127.0.0.1:8080/hooks/%2e/deploy", "allowed http://127.0.0.1:8080/hooks/deploy"},
      {"http://127.0.0.1:8080/%68ooks/deploy", "allowed http://127.0.0.1:8080/hooks/deploy"},
      {"http://127.0.0.1:8080/hooks/a%3fb%7e%2D", "allowed http://127.0.0.1:8080/hooks/a%3Fb~-"},
      {"http://127.0.0.1:8080/hooks/x/%2e%2e/deploy?a=%2e%2e", "allowed http://127.0.0.1:8080/hooks/deploy?a=%2e%2e"},
      {"http://[::1]:8080/hooks/x", "allowed http://[::1]:8080/hooks/x"},
      {"https://ghcr.io:443/v2/x;a=b", "allowed https://ghcr.io:443/v2/x;a=b"},
  };
  for (const auto& [url, expected] : rows) {
    INFO(url);
    CHECK(http_error(job, url) == expected);
  }
}

// Issue 12, item 12: allow.mail matches the address that will be on the envelope, parsed as
// RFC 5322 addr-spec; anything that is not exactly one such address is refused.
TEST_CASE("allow.mail: recipients are parsed strictly before they are matched", "[security]") {
  const auto job = job_allowing({.mail = {"*@acme.test", "oncall@example.com"}});
  const std::string bad = " is not an email address: ";
  const std::pair<std::string, std::string> rows[] = {
      {"evil@x.test@acme.test", "mail: recipient 'evil@x.test@acme.test'" + bad + "more than one '@'"},
      {"evil@x.test,@acme.test", "mail: recipient 'evil@x.test,@acme.test'" + bad + "more than one '@'"},
      {"evil%x.test@acme.test", "mail: recipient 'evil%x.test@acme.test'" + bad + "'%' or '!' routes mail through a host"},
      {"x.test!evil@acme.test", "mail: recipient 'x.test!evil@acme.test'" + bad + "'%' or '!' routes mail through a host"},
      {"\"evil@x.test\"@acme.test", "mail: recipient '\"evil@x.test\"@acme.test'" + bad + "more than one '@'"},
      {"Boss <boss@evil.test>", "mail: recipient boss@evil.test is not allowed for job version-check (allow.mail)"},
      {"boss@evil.test <ops@acme.test>", "mail: recipient 'boss@evil.test <ops@acme.test>'" + bad + "the display name holds '@'"},
      {"ops@acme.test\r\nBcc: boss@evil.test", "mail: recipient 'ops@acme.test\\r\\nBcc: boss@evil.test'" + bad + "it holds a control character"},
      {"ops@acme.test.evil.test", "mail: recipient ops@acme.test.evil.test is not allowed for job version-check (allow.mail)"},
      {"ops@acme.test.", "mail: recipient 'ops@acme.test.'" + bad + "the domain must be labels of letters, digits and '-'"},
      {"ops@-acme.test", "mail: recipient 'ops@-acme.test'" + bad + "the domain must be labels of letters, digits and '-'"},
      {".ops@acme.test", "mail: recipient '.ops@acme.test'" + bad + "the local part must be dot-separated words or a quoted string"},
      {"op..s@acme.test", "mail: recipient 'op..s@acme.test'" + bad + "the local part must be dot-separated words or a quoted string"},
      {"ops", "mail: recipient 'ops'" + bad + "no '@'"},
      {"@acme.test", "mail: recipient '@acme.test'" + bad + "the local part must be dot-separated words or a quoted string"},
      {"oncall@example.com.evil.test", "mail: recipient oncall@example.com.evil.test is not allowed for job version-check (allow.mail)"},
      // what stays allowed: the parsed address is what is matched
      {"Ops@ACME.test", "ok"},
      {"Ops Desk <ops@acme.test>", "ok"},
      {"\"Desk, Ops\" <ops@acme.test>", "ok"},
      {"\"ops desk\"@acme.test", "ok"},
      {"first.last+tag@acme.test", "ok"},
      {"OnCall@Example.COM", "ok"},
  };
  for (const auto& [recipient, expected] : rows) {
    INFO(recipient);
    const Status s = api::check_mail(job, {recipient});
    CHECK((s ? std::string("ok") : s.message()) == expected);
  }
}
