#include <catch2/catch.hpp>

#include "api/registry_client.hpp"
#include "util/base64.hpp"
#include "util/glob.hpp"

using namespace cronhost;

TEST_CASE("image names resolve as docker does") {
  CHECK(api::parse_image_name("ghcr.io/acme/app")->text() == "ghcr.io/acme/app");
  CHECK(api::parse_image_name("nginx")->text() == "docker.io/library/nginx");
  CHECK(api::parse_image_name("acme/app")->text() == "docker.io/acme/app");
  CHECK(api::parse_image_name("localhost/app")->registry == "localhost");
  CHECK(api::parse_image_name("127.0.0.1:5000/acme/app")->registry == "127.0.0.1:5000");
  CHECK(api::parse_image_name("ghcr.io/acme/app:1.0").message() ==
        "registry: give the image without a tag or digest, e.g. ghcr.io/acme/app (got ghcr.io/acme/app:1.0)");
  CHECK(api::parse_image_name("ghcr.io/Acme/App").message() ==
        "registry: 'ghcr.io/Acme/App' is not an image name (lower-case letters, digits, '.', '_', '-', '/')");
  CHECK(api::parse_image_name("").message() == "registry: the image name is empty");
}

TEST_CASE("WWW-Authenticate challenges, with commas inside quoted values") {
  const auto c = api::parse_challenge(
      R"(Bearer realm="http://127.0.0.1:5001/token",service="registry.test",scope="repository:acme/app:pull,push",error="insufficient_scope")");
  CHECK(c.scheme == "bearer");
  CHECK(c.params.at("realm") == "http://127.0.0.1:5001/token");
  CHECK(c.params.at("service") == "registry.test");
  CHECK(c.params.at("scope") == "repository:acme/app:pull,push");
  CHECK(c.params.at("error") == "insufficient_scope");
  const auto basic = api::parse_challenge(R"(Basic realm="test-registry")");
  CHECK(basic.scheme == "basic");
  CHECK(basic.params.at("realm") == "test-registry");
}

TEST_CASE("Link headers: the rel=next target, relative or absolute") {
  CHECK(api::next_link(R"(</v2/acme/app/tags/list?n=2&last=b>; rel="next")") == "/v2/acme/app/tags/list?n=2&last=b");
  CHECK(api::next_link(R"(<https://r.test/a?last=x>; rel="prev", <https://r.test/b?last=y>; rel="next")") ==
        "https://r.test/b?last=y");
  CHECK(api::next_link("").empty());
  CHECK(api::resolve_url("http://127.0.0.1:5000/v2/acme/app/tags/list", "/v2/acme/app/tags/list?n=2&last=b") ==
        "http://127.0.0.1:5000/v2/acme/app/tags/list?n=2&last=b");
}

TEST_CASE("base64 and glob helpers") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("tester:s3cret") == "dGVzdGVyOnMzY3JldA==");
  CHECK(*base64_decode("dGVzdGVyOnMzY3JldA==") == "tester:s3cret");
  CHECK_FALSE(base64_decode("not base64!").has_value());
  CHECK(glob_match("*@acme.test", "ops@acme.test"));
  CHECK_FALSE(glob_match("*@acme.test", "ops@acme.test.evil"));
  CHECK(glob_match("ghcr.io/acme/*", "ghcr.io/acme/app"));
  CHECK(glob_match("a?c*", "abcdef"));
  CHECK_FALSE(glob_match("a?c", "ac"));
}
