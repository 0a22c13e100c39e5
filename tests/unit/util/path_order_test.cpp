#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "util/path_order.hpp"

using cronhost::path_order_less;

TEST_CASE("plain strings sort as std::filesystem::path does", "[util]") {
  CHECK(path_order_less("jobs.d/a/b.yaml", "jobs.d/a.yaml"));  // a string compare says otherwise: '/' > '.'
  CHECK(path_order_less("jobs.d/a.yaml", "jobs.d/a-b.yaml") == (std::filesystem::path("jobs.d/a.yaml") < "jobs.d/a-b.yaml"));
  CHECK_FALSE(path_order_less("x", "x"));
  CHECK(path_order_less("x", "x/y"));
  CHECK_FALSE(path_order_less("x/y", "x"));

  std::mt19937 random(7);
  const std::string alphabet = "ab.-_/Z~ !\xc3\xa9";  // bytes below '/' and above 0x7f too
  const auto any_path = [&] {
    std::string s = "d/";
    const int length = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < length; ++i) {
      const char c = alphabet[random() % alphabet.size()];
      if (c == '/' && s.back() == '/') continue;  // a walk never yields an empty element
      s += c;
    }
    if (s.back() == '/') s += 'a';
    return s;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string a = any_path(), b = any_path();
    INFO(a << " vs " << b);
    REQUIRE(path_order_less(a, b) == (std::filesystem::path(a) < std::filesystem::path(b)));
  }
}
