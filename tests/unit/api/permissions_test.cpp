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
