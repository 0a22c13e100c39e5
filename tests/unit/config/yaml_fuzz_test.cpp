// The job loader under fuzzing: short texts drawn from YAML's punctuation must each end in a
// job or a clear error, quickly. A fixed seed in `make test`; `make fuzz` runs many more
// cases (CRONHOST_FUZZ_CASES) with a seed of the moment (CRONHOST_FUZZ_SEED to replay one).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

#include "../support/load_text.hpp"
#include "config/job_loader.hpp"

using namespace cronhost;
using namespace cronhost::config;

namespace {

Diagnostics load_text(const std::string& text) { return test::load_diagnostics("fuzz.yaml", text); }

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::strtoull(value, nullptr, 10) : fallback;
}

}  // namespace

// yaml-cpp 0.7, the parser before libyaml, looped forever on these (upstream issue #1040).
TEST_CASE("stray tokens and extra documents are refused at once, with their place", "[config][malformed]") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {",", "fuzz.yaml:1:1: error: not valid YAML: did not find expected node content, found ','"},
      {" ,", "fuzz.yaml:1:2: error: not valid YAML: did not find expected node content, found ','"},
      {",a: 1", "fuzz.yaml:1:1: error: not valid YAML: did not find expected node content, found ','"},
      {"[a]\n,\n", "fuzz.yaml:2:1: error: not valid YAML: did not find expected <document start>, found ','"},
      {"script: x.lua\n,\n",
       "fuzz.yaml:2:1: error: not valid YAML: did not find expected key, found ',' (while parsing a block mapping at "
       "line 1, column 1)"},
      {"a: 1\n---\nb: 2\n", "fuzz.yaml:2:1: error: more than one YAML document: a job file holds one job"},
  };
  for (const auto& [text, message] : table) {
    INFO(text);
    const auto start = std::chrono::steady_clock::now();
    const auto diagnostics = load_text(text);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
    REQUIRE_FALSE(diagnostics.empty());
    CHECK(diagnostics.front().format() == message);
  }
}

TEST_CASE("the loader under fuzzing ends every text quickly", "[config][malformed][fuzz]") {
  const uint64_t cases = env_number("CRONHOST_FUZZ_CASES", 20'000);
  const uint64_t seed = env_number("CRONHOST_FUZZ_SEED", cases > 20'000 ? std::random_device{}() : 20261203);
  std::cout << "loader fuzz: " << cases << " cases, CRONHOST_FUZZ_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  static const std::string kAlphabet = ",[]{}:-?|>&*!#'\" \n\t%@`~.=<a1xyz\\";
  static const std::vector<std::string> kPieces = {"script: x.lua\n", "schedule: {cron: \"* * * * *\"}\n", "---\n",
                                                   "...\n", "&a ", "*a", "!!str ", "? ", "- ", "{", "}", "[", "]"};
  for (uint64_t i = 0; i < cases; ++i) {
    std::string text;
    const size_t parts = 1 + rng() % 8;
    for (size_t p = 0; p < parts; ++p) {
      if (rng() % 4 == 0) text += kPieces[rng() % kPieces.size()];
      else text += kAlphabet[rng() % kAlphabet.size()];
    }
    const auto start = std::chrono::steady_clock::now();
    load_text(text);
    const auto took = std::chrono::steady_clock::now() - start;
    if (took > std::chrono::milliseconds(500)) FAIL("case " << i << " took too long: " << text);
  }
  SUCCEED();
}
