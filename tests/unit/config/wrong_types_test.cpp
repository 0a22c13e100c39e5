// Every key the schemas know, given a value of every other shape: an error naming the file,
// never a crash. Walks the schemas themselves, so a key added later is covered too.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../support/load_text.hpp"
#include "../support/temp_dir.hpp"
#include "config/host_config.hpp"
#include "config/schemas.hpp"

using namespace cronhost;
using nlohmann::json;

namespace {

// Values of each JSON shape, and lists and maps holding them.
const std::vector<json> kWrongValues = {7, -1, 2.5, true, "x", "", json::array(), json::array({7}),
                                        json::array({json::object()}), json::object(), json{{"a", 7}},
                                        json::array({json::array({true})})};

// Every key path the schema names ("/schedule/cron", "/allow/http/0", ...), with its
// ancestors' "properties" and "items" followed.
void key_paths(const json& schema, const std::string& at, std::vector<std::string>& out) {
  if (!schema.is_object()) return;
  if (auto p = schema.find("properties"); p != schema.end())
    for (const auto& [name, sub] : p->items()) {
      out.push_back(at + "/" + name);
      key_paths(sub, at + "/" + name, out);
    }
  if (auto items = schema.find("items"); items != schema.end() && items->is_object()) {
    out.push_back(at + "/0");
    key_paths(*items, at + "/0", out);
  }
  for (const char* branch : {"oneOf", "anyOf", "allOf"})
    if (auto list = schema.find(branch); list != schema.end())
      for (const auto& sub : *list) key_paths(sub, at, out);
}

std::vector<std::string> paths_of(std::string_view schema_text) {
  std::vector<std::string> out;
  key_paths(json::parse(schema_text), "", out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// `base` with the value at `path` replaced (its parents made where missing).
json with_value(json base, const std::string& path, const json& value) {
  json::json_pointer pointer(path);
  base[pointer] = value;
  return base;
}

}  // namespace

TEST_CASE("every job key with a value of the wrong shape is an error, never a crash", "[config][malformed]") {
  const json base = json::parse(R"({"schedule": {"every": "1h"}, "run": {"lua": "scripts/job.lua"}})");
  const auto paths = paths_of(config::job_schema_text());
  REQUIRE(paths.size() > 40);
  size_t refused = 0;
  for (const auto& path : paths)
    for (const auto& value : kWrongValues) {
      const std::string text = with_value(base, path, value).dump();  // JSON is YAML
      INFO(path << " = " << value.dump());
      config::Diagnostics diagnostics;
      REQUIRE_NOTHROW(diagnostics = test::load_diagnostics("bad.yaml", text));
      for (const auto& d : diagnostics) CHECK(d.format().rfind("bad.yaml:", 0) == 0);
      refused += !diagnostics.empty();
    }
  CHECK(refused > paths.size() * kWrongValues.size() / 2);  // most shapes are wrong for most keys
}

TEST_CASE("every host config key with a value of the wrong shape is an error, never a crash", "[config][malformed]") {
  test::TempDir dir;
  const auto paths = paths_of(config::config_schema_text());
  REQUIRE(paths.size() > 20);
  for (const auto& path : paths)
    for (const auto& value : kWrongValues) {
      const auto file = dir.write("cronhost.yaml", with_value(json::object(), path, value).dump());
      INFO(path << " = " << value.dump());
      config::Diagnostics diagnostics;
      REQUIRE_NOTHROW(config::load_host_config(file, diagnostics));
      for (const auto& d : diagnostics) CHECK(d.format().rfind(file.string() + ":", 0) == 0);
    }
}
