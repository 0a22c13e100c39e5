// Boxed<T> behaves as std::optional<T> does (absent, set, copied deeply), at a pointer's size.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "util/boxed.hpp"

using cronhost::Boxed;

TEST_CASE("a boxed value is absent, set, and copied deeply, at a pointer's size", "[util][boxed]") {
  struct Big {
    std::string text;
    std::vector<int> numbers;
    char padding[200] = {};
  };
  static_assert(sizeof(Boxed<Big>) == sizeof(void*));

  Boxed<Big> absent;
  CHECK_FALSE(absent);
  CHECK_FALSE(Boxed<Big>(std::nullopt).has_value());
  CHECK_FALSE(Boxed<Big>(std::optional<Big>()).has_value());

  Boxed<Big> set = Big{"first", {1, 2}};
  REQUIRE(set);
  CHECK(set->text == "first");
  Boxed<Big> copy = set;
  copy->text = "changed";
  copy->numbers.push_back(3);
  CHECK(set->text == "first");
  CHECK(set->numbers == std::vector<int>{1, 2});
  CHECK((*copy).numbers == std::vector<int>{1, 2, 3});

  copy = absent;
  CHECK_FALSE(copy);
  copy = std::optional<Big>(Big{"from optional", {}});
  CHECK(copy->text == "from optional");
  Boxed<Big> moved = std::move(copy);
  CHECK(moved->text == "from optional");
  CHECK_FALSE(copy);  // NOLINT(bugprone-use-after-move): a moved-from box is empty
  const Boxed<Big>& same = set;
  set = same;  // assigning a box to itself keeps the value
  CHECK(set->text == "first");
}
