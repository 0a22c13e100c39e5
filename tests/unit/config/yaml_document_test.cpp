// YamlDocument reads the events of libyaml's parser in one pass (config/yaml_events.hpp):
// aliases, keys and positions as a node tree would give them.
#include <catch2/catch.hpp>

#include "config/yaml_document.hpp"

using namespace cronhost::config;

namespace {

struct Parsed {
  std::optional<YamlDocument> doc;
  Diagnostics diagnostics;
};

Parsed parse(const std::string& text) {
  Parsed out;
  out.doc = YamlDocument::parse("t.yaml", text, "/tmp", out.diagnostics);
  return out;
}

std::string where(const Position& p) { return std::to_string(p.line) + ":" + std::to_string(p.column); }

}  // namespace

TEST_CASE("an alias is the anchored value again, placed where the anchor was written", "[config][yaml]") {
  auto p = parse("base: &b {image: app, tags: [x, y]}\none: *b\ntwo:\n  - *b\n");
  REQUIRE(p.diagnostics.empty());
  REQUIRE(p.doc);
  const auto& root = p.doc->root();
  CHECK(root["one"] == root["base"]);
  CHECK(root["two"][0] == root["base"]);
  CHECK(root["one"]["tags"][1] == "y");
  CHECK(where(p.doc->value_position("/one/tags/1")) == "1:33");  // the anchored node's own place
  CHECK(where(p.doc->key_position("/one")) == "2:1");
  CHECK(where(p.doc->value_position("/two/0/image")) == "1:18");
}

TEST_CASE("an alias may name a key", "[config][yaml]") {
  auto p = parse("a: &k name\n*k : 3\n");
  REQUIRE(p.diagnostics.empty());
  CHECK(p.doc->root() == nlohmann::json{{"a", "name"}, {"name", 3}});
}

TEST_CASE("a key that is not text is refused and the rest is read", "[config][yaml]") {
  auto p = parse("? [1, 2]\n: skipped\n~: also\nb: {c: [d]}\n");
  REQUIRE(p.diagnostics.size() == 2);
  CHECK(p.diagnostics[0].format() == "t.yaml:1:3: error: keys must be plain text");
  CHECK(p.diagnostics[1].format() == "t.yaml:3:1: error: keys must be plain text");
  REQUIRE(p.doc);
  CHECK(p.doc->root() == nlohmann::json{{"b", {{"c", {"d"}}}}});
}

TEST_CASE("a duplicate key is reported where it is repeated and the first kept", "[config][yaml]") {
  auto p = parse("a: {x: 1}\nb: 2\na: [3]\nc: 4\n");
  REQUIRE(p.diagnostics.size() == 1);
  CHECK(p.diagnostics[0].format() == "t.yaml:3:1: error: duplicate key 'a' (first given on line 1)");
  CHECK(p.doc->root() == nlohmann::json{{"a", {{"x", 1}}}, {"b", 2}, {"c", 4}});
}

TEST_CASE("an alias inside its own anchor ends at the nesting limit", "[config][yaml]") {
  auto p = parse("a: &x [1, *x]\n");
  REQUIRE_FALSE(p.doc);
  REQUIRE(p.diagnostics.size() == 1);
  CHECK(p.diagnostics[0].format().find("nesting deeper than 64 levels") != std::string::npos);
}

TEST_CASE("scalars are typed as YAML 1.2's core schema types them, quoted and tagged ones stay text",
          "[config][yaml]") {
  auto p = parse("n: 12\nq: '12'\nt: !!str 12\nf: 1.5\nb: true\nz: ~\nempty:\ns: text\n");
  REQUIRE(p.diagnostics.empty());
  CHECK(p.doc->root() ==
        nlohmann::json{{"n", 12}, {"q", "12"}, {"t", "12"}, {"f", 1.5}, {"b", true}, {"z", nullptr}, {"empty", nullptr}, {"s", "text"}});
}

TEST_CASE("an empty text and a lone document marker are a null document", "[config][yaml]") {
  for (const std::string text : {"", "# only a comment\n", "---\n"}) {
    auto p = parse(text);
    INFO(text);
    REQUIRE(p.doc);
    CHECK(p.doc->root().is_null());
    CHECK(where(p.doc->value_position("")) == (text == "---\n" ? "2:1" : "1:1"));  // after the marker
  }
}

TEST_CASE("an alias names the latest node given that anchor", "[config][yaml]") {
  auto p = parse("a: &x 1\nb: *x\nc: &x [2]\nd: *x\ne: &n\nf: *n\n");
  REQUIRE(p.diagnostics.empty());
  CHECK(p.doc->root() == nlohmann::json{{"a", 1}, {"b", 1}, {"c", {2}}, {"d", {2}}, {"e", nullptr}, {"f", nullptr}});
}

TEST_CASE("a mistake inside an anchored map is reported for each alias of it", "[config][yaml]") {
  auto p = parse("a: &m {x: 1, x: 2}\nb: *m\n");
  REQUIRE(p.diagnostics.size() == 2);  // as the node tree gave it: the alias is the map again
  CHECK(p.diagnostics[0].format() == "t.yaml:1:14: error: duplicate key 'x' (first given on line 1)");
  CHECK(p.diagnostics[1].format() == p.diagnostics[0].format());
  CHECK(p.doc->root() == nlohmann::json{{"a", {{"x", 1}}}, {"b", {{"x", 1}}}});
}

TEST_CASE("places count bytes after text that is not ASCII", "[config][yaml]") {
  // libyaml counts characters; the columns and the offsets into the source are bytes.
  auto p = parse("k: {a: \u00e9\u00e9, b: c, q: \"xyz\"}\nnext: \u00fc\n");
  REQUIRE(p.diagnostics.empty());
  CHECK(p.doc->root()["k"]["a"] == "\u00e9\u00e9");
  CHECK(where(p.doc->value_position("/k/b")) == "1:17");
  CHECK(where(p.doc->text_position("/k/q", 2)) == "1:26");  // the quote, then two characters in
  CHECK(where(p.doc->key_position("/next")) == "2:1");
}

TEST_CASE("an anchor named again names the newer node", "[config][yaml]") {
  auto p = parse("a: &x 1\nb: &x 2\nc: *x\nd: &y 3\ne: *y\n");
  REQUIRE(p.diagnostics.empty());
  CHECK(p.doc->root() == nlohmann::json{{"a", 1}, {"b", 2}, {"c", 2}, {"d", 3}, {"e", 3}});
}

TEST_CASE("an alias to no anchor and text that is not UTF-8 are refused with their place", "[config][yaml]") {
  auto alias = parse("a: 1\nb: *nope\n");
  REQUIRE(alias.diagnostics.size() == 1);
  CHECK(alias.diagnostics[0].format() == "t.yaml:2:4: error: not valid YAML: *nope names no anchor &nope before it");
  auto latin1 = parse("a: 1\nb: caf\xe9\n");
  REQUIRE(latin1.diagnostics.size() == 1);
  CHECK(latin1.diagnostics[0].format() == "t.yaml:2:7: error: not UTF-8 text: incomplete UTF-8 octet sequence");
}

TEST_CASE("a byte order mark before the text is not part of it", "[config][yaml]") {
  auto p = parse("\xEF\xBB\xBFschedule: {cron: '@daily'}\nrun: {lua: a.lua}\n");
  REQUIRE(p.diagnostics.empty());
  CHECK(p.doc->root()["run"]["lua"] == "a.lua");
  CHECK(where(p.doc->key_position("/schedule")) == "1:1");
}

TEST_CASE("tabs and control characters are named for what they are", "[config][yaml]") {
  auto indent = parse("a:\n\t- b\n");
  REQUIRE(indent.diagnostics.size() == 1);
  CHECK(indent.diagnostics[0].format() ==
        "t.yaml:2:1: error: not valid YAML: a tab where YAML expects spaces (YAML indents with spaces only)");
  auto after_dash = parse("a:\n  -\tb\n");  // not indentation: libyaml's own words
  REQUIRE(after_dash.diagnostics.size() == 1);
  CHECK(after_dash.diagnostics[0].message.find("indents") == std::string::npos);
  auto control = parse("a: x\x7fy\n");
  REQUIRE(control.diagnostics.size() == 1);
  CHECK(control.diagnostics[0].format() == "t.yaml:1:5: error: not a YAML text: control characters are not allowed");
}

TEST_CASE("a JSON pointer is read as RFC 6901 writes it", "[config][yaml]") {
  const nlohmann::json root = {{"a~0", 1}, {"b/c", 2}, {"~", 3}, {"list", {10, 11}}};
  CHECK(*value_at(root, "/a~00") == 1);
  CHECK(*value_at(root, "/b~1c") == 2);
  CHECK(*value_at(root, "/~0") == 3);
  CHECK(*value_at(root, "/list/1") == 11);
  CHECK(value_at(root, "") == &root);
  CHECK_FALSE(value_at(root, "/~2"));
  CHECK_FALSE(value_at(root, "/list/01"));
  CHECK_FALSE(value_at(root, "/list/2"));
  CHECK_FALSE(value_at(root, "/list/-"));
  CHECK_FALSE(value_at(root, "/list/99999999999999999999999"));  // past size_t
  CHECK_FALSE(value_at(root, "list"));
  CHECK(split_pointer("/a~00/b~1c") == std::vector<std::string>{"a~0", "b/c"});
}
