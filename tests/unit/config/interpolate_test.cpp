#include <catch2/catch.hpp>
#include <cstdlib>

#include "config/interpolate.hpp"

using namespace cronhost;

TEST_CASE("${env:NAME:-fallback} uses the fallback when the variable is unset or empty") {
  unsetenv("CRONHOST_TEST_FALLBACK");
  CHECK(config::interpolate("v${env:CRONHOST_TEST_FALLBACK:-0.0.0}", ".")->text == "v0.0.0");
  setenv("CRONHOST_TEST_FALLBACK", "", 1);
  CHECK(config::interpolate("${env:CRONHOST_TEST_FALLBACK:-x}", ".")->text == "x");
  setenv("CRONHOST_TEST_FALLBACK", "1.4.2", 1);
  CHECK(config::interpolate("${env:CRONHOST_TEST_FALLBACK:-0.0.0}", ".")->text == "1.4.2");
  CHECK(config::interpolate("${env:CRONHOST_TEST_FALLBACK:-}", ".")->has_secret);
  unsetenv("CRONHOST_TEST_FALLBACK");
  CHECK(config::interpolate("${env:CRONHOST_TEST_FALLBACK:-}", ".")->text.empty());
  CHECK(config::interpolate("${env:CRONHOST_TEST_FALLBACK}", ".").message() ==
        "environment variable CRONHOST_TEST_FALLBACK is not set (${env:CRONHOST_TEST_FALLBACK})");
}

TEST_CASE("${var:NAME} reads the environment without making the value a secret") {
  setenv("CRONHOST_TEST_PLAIN", "0.1.2", 1);
  auto plain = config::interpolate("v${var:CRONHOST_TEST_PLAIN}", ".");
  CHECK(plain->text == "v0.1.2");
  CHECK_FALSE(plain->has_secret);
  CHECK(config::interpolate("${var:CRONHOST_TEST_PLAIN} ${env:CRONHOST_TEST_PLAIN}", ".")->has_secret);
  unsetenv("CRONHOST_TEST_PLAIN");
  CHECK(config::interpolate("${var:CRONHOST_TEST_PLAIN:-0.0.0}", ".")->text == "0.0.0");
  CHECK(config::interpolate("${var:CRONHOST_TEST_PLAIN}", ".").message() ==
        "environment variable CRONHOST_TEST_PLAIN is not set (${var:CRONHOST_TEST_PLAIN})");
  CHECK(config::interpolate("${nope:X}", ".").message() ==
        "unknown reference \"${nope:X}\": expected ${env:NAME}, ${var:NAME} or ${file:PATH}");
}
