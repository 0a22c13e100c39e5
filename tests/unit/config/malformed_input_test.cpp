// Hostile and broken input: a clear error at a position, never a crash or a hang.
#include <catch2/catch.hpp>

#include <chrono>

#include "../support/temp_dir.hpp"
#include "../support/load_text.hpp"
#include "config/job_loader.hpp"
#include "config/yaml_document.hpp"

using namespace cronhost;
using namespace cronhost::config;

namespace {

Diagnostics load_text(const std::string& text) { return test::load_diagnostics("bad.yaml", text); }

// "At once", for input that would otherwise never end. The unoptimised sanitizer build runs the
// same work about 20 times slower (6.5 s alone for the alias bomb, 13 s under load).
#if defined(__SANITIZE_ADDRESS__)
constexpr std::chrono::seconds kPromptly{60};
#else
constexpr std::chrono::seconds kPromptly{10};
#endif

std::string first_message(const std::string& text) {
  auto d = load_text(text);
  REQUIRE_FALSE(d.empty());
  return d.front().format();
}

}  // namespace

TEST_CASE("not YAML", "[config][malformed]") {
  CHECK(first_message("schedule: [unclosed\n") == "bad.yaml:2:1: error: not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 11)");
  CHECK(first_message("a: b: c\n") == "bad.yaml:1:5: error: not valid YAML: mapping values are not allowed in this context, found ':'");
  CHECK(first_message("key: \"unterminated") == "bad.yaml:1:19: error: not valid YAML: found unexpected end of stream (while scanning a quoted scalar at line 1, column 6)");
  CHECK(first_message("a:\n\t- b") == "bad.yaml:2:1: error: not valid YAML: a tab where YAML expects spaces (YAML indents with spaces only)");
}

TEST_CASE("binary garbage", "[config][malformed]") {
  std::string garbage;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1664525 + 1013904223;
    garbage += static_cast<char>(x >> 24);
  }
  CHECK(first_message(garbage) == "bad.yaml:1:1: error: not a YAML text file (it contains NUL bytes)");
  std::string no_nul = garbage;
  for (auto& c : no_nul)
    if (c == '\0') c = 'x';
  CHECK_FALSE(load_text(no_nul).empty());  // some error, and no crash
}

TEST_CASE("huge files are refused before parsing", "[config][malformed]") {
  std::string huge = "params:\n";
  while (huge.size() <= kMaxFileBytes) huge += "  k" + std::to_string(huge.size()) + ": value\n";
  CHECK(first_message(huge).find("bad.yaml:1:1: error: file is too large (") == 0);

  test::TempDir dir;
  dir.write("jobs.d/huge.yaml", huge);
  auto result = load_jobs({dir.path() / "jobs.d"}, LoadOptions{});
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].message.find("file is too large") == 0);
}

TEST_CASE("deep nesting", "[config][malformed]") {
  const std::string flow = "params: " + std::string(100'000, '[') + std::string(100'000, ']') + "\n";
  const auto start = std::chrono::steady_clock::now();
  CHECK(first_message(flow).find("bad.yaml:1:") == 0);
  std::string block = "params:\n";
  for (int i = 1; i <= 200; ++i) block += std::string(i * 2, ' ') + "k:\n";
  CHECK(first_message(block).find("error: nesting deeper than 64 levels") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < kPromptly);
}

TEST_CASE("aliases that expand exponentially are cut off", "[config][malformed]") {
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev)
    laughs += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
              ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  const auto start = std::chrono::steady_clock::now();
  CHECK(first_message(laughs).find("the document expands to more than 100000 values or 8 MiB of text (aliases?)") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < kPromptly);
}

TEST_CASE("aliases of a long string are cut off by size", "[config][malformed]") {
  std::string text = "a: &a '" + std::string(400'000, 'x') + "'\nb: [";
  for (int i = 0; i < 200; ++i) text += "*a, ";
  text += "*a]\n";
  CHECK(first_message(text).find("MiB of text (aliases?)") != std::string::npos);
}

// A duplicate key's value, or a key that is not text, is skipped unread: once per alias that
// replays it, so skipping must not walk what it skips (this file took ~50 s per case).
TEST_CASE("aliases of a map with a large skipped value are read at once", "[config][malformed]") {
  for (const std::string skipped_as : {"duplicate", "key"}) {
    std::string big = "[";
    for (int i = 0; i < 300'000; ++i) big += "0,";
    big += "0]";
    std::string text = skipped_as == "duplicate" ? "a: &a {k: 0, k: " + big + "}\nb: [" : "a: &a\n  ? " + big + "\n  : 1\nb: [";
    for (int i = 0; i < 49'000; ++i) text += "*a,";  // under kMaxNodes: two values each
    text += "*a]\n";
    INFO(skipped_as);
    Diagnostics diagnostics;
    const auto start = std::chrono::steady_clock::now();
    auto doc = YamlDocument::parse("bad.yaml", text, "/tmp", diagnostics);
    CHECK(std::chrono::steady_clock::now() - start < kPromptly);
    REQUIRE_FALSE(diagnostics.empty());
    CHECK(diagnostics.front().format() == (skipped_as == "duplicate"
                                               ? "bad.yaml:1:14: error: duplicate key 'k' (first given on line 1)"
                                               : "bad.yaml:2:5: error: keys must be plain text"));
  }
}

TEST_CASE("a 10,000-character expression", "[config][malformed]") {
  const std::string text = "schedule: {cron: '" + std::string(10'000, '*') + "'}\nrun: {lua: x.lua}\n";
  bool found = false;
  for (const auto& d : load_text(text))
    if (d.message == "schedule.cron: cron expression is too long (10000 characters, at most 1024)") found = true;
  CHECK(found);
}

TEST_CASE("more than one document", "[config][malformed]") {
  CHECK(first_message("schedule: {cron: '@daily'}\n---\nother: 1\n") ==
        "bad.yaml:2:1: error: more than one YAML document: a job file holds one job");
}
