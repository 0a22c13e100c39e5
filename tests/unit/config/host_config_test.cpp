#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "config/host_config.hpp"

using namespace cronhost;
using namespace cronhost::config;

TEST_CASE("host config: values, relative paths and defaults", "[config][host]") {
  test::TempDir dir;
  const auto file = dir.write("etc/cronhost.yaml",
                              "state: data/cronhost.db\ntimezone: Australia/Adelaide\nworkers: 3\n"
                              "shutdown_grace: 1m\nlog: {level: debug, format: json, file: logs/cronhost.log, keep_days: 14}\n");
  Diagnostics diagnostics;
  auto config = load_host_config(file, diagnostics);
  REQUIRE(diagnostics.empty());
  REQUIRE(config);
  CHECK(config->state_file == dir.path() / "etc/data/cronhost.db");
  CHECK(config->timezone->name() == "Australia/Adelaide");
  CHECK(config->workers == 3);
  CHECK(config->shutdown_grace == std::chrono::minutes(1));
  CHECK(config->log.level == "debug");
  CHECK(config->log.format == "json");
  CHECK(config->log.file == dir.path() / "etc/logs/cronhost.log");
  CHECK(config->log.keep_days == 14);

  const auto empty = dir.write("empty.yaml", "");
  auto defaults = load_host_config(empty, diagnostics);
  REQUIRE(defaults);
  CHECK(defaults->timezone->name() == "UTC");
  CHECK(defaults->workers >= 1);
  CHECK(defaults->shutdown_grace == std::chrono::seconds(30));
}

TEST_CASE("host config errors name the key", "[config][host]") {
  test::TempDir dir;
  const auto file = dir.write("cronhost.yaml", "workers: lots\ntimezone: Mars/Base\nlog: {levle: debug}\n");
  Diagnostics diagnostics;
  CHECK_FALSE(load_host_config(file, diagnostics));
  std::vector<std::string> lines;
  for (const auto& d : diagnostics) lines.push_back(d.format().substr(file.string().size()));
  CHECK(lines == std::vector<std::string>{
                     ":1:10: error: workers: expected a whole number from 1 to 1024, got text",
                     ":3:7: error: unknown key 'levle' in log, did you mean 'level'?",
                 });
  Diagnostics zone_diagnostics;
  const auto zone_file = dir.write("zone.yaml", "timezone: Mars/Base\n");
  CHECK_FALSE(load_host_config(zone_file, zone_diagnostics));
  REQUIRE(zone_diagnostics.size() == 1);
  CHECK(zone_diagnostics[0].format() == zone_file.string() +
                                            ":1:11: error: timezone: unknown time zone \"Mars/Base\", expected an IANA "
                                            "name such as Europe/London or UTC");
}
