#include <catch2/catch.hpp>

#include "util/byte_size.hpp"

using namespace cronhost;

TEST_CASE("sizes parse in every unit, as powers of 1024", "[byte_size]") {
  const std::pair<const char*, uint64_t> rows[] = {
      {"1B", 1},          {"512KB", 512u << 10},  {"512KiB", 512u << 10}, {"100MB", 100u << 20},
      {"100 MB", 100u << 20}, {"1GB", 1u << 30}, {"3GiB", uint64_t{3} << 30}, {"1024GB", uint64_t{1} << 40},
  };
  for (auto [text, bytes] : rows) {
    INFO(text);
    CHECK(parse_byte_size(text).value() == bytes);
  }
}

TEST_CASE("bad sizes quote the text and say what was expected", "[byte_size]") {
  const std::pair<const char*, const char*> rows[] = {
      {"", "bad size \"\": expected a whole number and a unit (B, KB, MB, GB), e.g. 100MB"},
      {"100", "bad size \"100\": missing unit; expected a whole number and a unit (B, KB, MB, GB), e.g. 100MB"},
      {"100M", "bad size \"100M\": unknown unit \"M\"; expected a whole number and a unit (B, KB, MB, GB), e.g. 100MB"},
      {"1.5GB", "bad size \"1.5GB\": unknown unit \".5GB\"; expected a whole number and a unit (B, KB, MB, GB), e.g. 100MB"},
      {"-1MB", "bad size \"-1MB\": expected a whole number and a unit (B, KB, MB, GB), e.g. 100MB"},
      {"1025GB", "size \"1025GB\" is too large (at most 1024GB)"},
      {"99999999999999999999B", "size \"99999999999999999999B\" is too large (at most 1024GB)"},
  };
  for (auto [text, message] : rows) {
    INFO(text);
    auto size = parse_byte_size(text);
    REQUIRE_FALSE(size);
    CHECK(size.message() == message);
  }
}
