// Whether the scripts and plugins jobs name are files, each path looked at once per load.
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "config/file_presence.hpp"

using namespace cronhost;

TEST_CASE("a path is looked at once for the life of one load", "[file_presence]") {
  test::TempDir dir;
  const auto script = dir.write("t.lua", "return {}\n");
  config::FilePresence files;
  CHECK(files.is_regular_file(script));
  CHECK_FALSE(files.is_regular_file(dir.path() / "missing.lua"));
  CHECK_FALSE(files.is_regular_file(dir.path()));  // a folder is not a script
  std::filesystem::remove(script);
  CHECK(files.is_regular_file(script));  // what this load saw first
  CHECK_FALSE(config::FilePresence().is_regular_file(script));  // the next load looks again
}
