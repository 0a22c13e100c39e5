// The script cache: a file read once while unchanged, and read again whenever it may have
// changed, even by a rewrite that keeps its size within one tick of the file clock.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "../support/temp_dir.hpp"
#include "run/script_cache.hpp"

using namespace cronhost;
using namespace std::chrono_literals;

TEST_CASE("an unchanged script is read once and shared", "[script_cache]") {
  test::TempDir dir;
  const auto path = dir.write("t.lua", "return 1\n");
  run::ScriptCache cache(0ns);
  std::string error;
  const auto first = cache.read(path, error);
  REQUIRE(first);
  CHECK(*first == "return 1\n");
  CHECK(cache.read(path, error) == first);  // the same text, not a new read

  // Replaced by a rename (how editors and ConfigMaps change files): a new inode.
  dir.write("t.lua.new", "return 2\n");
  std::filesystem::rename(dir.path() / "t.lua.new", path);
  const auto renamed = cache.read(path, error);
  REQUIRE(renamed);
  CHECK(*renamed == "return 2\n");
}

TEST_CASE("a script rewritten in place with the same size is read again", "[script_cache]") {
  test::TempDir dir;
  run::ScriptCache cache;  // the host's settle time
  std::string error;
  // Many rewrites in a row: most fall within one tick of the file times, so size and times
  // stay the same; only the settle rule tells them apart.
  for (int i = 0; i < 200; ++i) {
    const std::string text = "return " + std::to_string(100 + i % 2) + "\n";
    const auto path = dir.write("t.lua", text);
    const auto read = cache.read(path, error);
    REQUIRE(read);
    REQUIRE(*read == text);
  }
}

TEST_CASE("a script that cannot be read names the path and why", "[script_cache]") {
  test::TempDir dir;
  run::ScriptCache cache(0ns);
  std::string error;
  CHECK_FALSE(cache.read(dir.path() / "missing.lua", error));
  CHECK(error == "cannot read the script " + (dir.path() / "missing.lua").string() + ": No such file or directory");
  std::filesystem::create_directories(dir.path() / "folder.lua");
  CHECK_FALSE(cache.read(dir.path() / "folder.lua", error));
  CHECK(error == "cannot read the script " + (dir.path() / "folder.lua").string() + ": not a regular file");

  // A file cached and then removed is not served from the cache.
  const auto path = dir.write("gone.lua", "return 1\n");
  CHECK(cache.read(path, error));
  std::filesystem::remove(path);
  CHECK_FALSE(cache.read(path, error));
}

TEST_CASE("sources past the cache's size are read each time", "[script_cache]") {
  test::TempDir dir;
  run::ScriptCache cache(0ns, 16);
  std::string error;
  const auto small = dir.write("small.lua", "return 1\n");
  const auto large = dir.write("large.lua", "return 'twenty bytes'\n");
  const auto first = cache.read(large, error);
  REQUIRE(first);
  CHECK(cache.read(large, error) != first);
  CHECK(*cache.read(large, error) == "return 'twenty bytes'\n");
  const auto kept = cache.read(small, error);
  CHECK(cache.read(small, error) == kept);
}

TEST_CASE("a FIFO put where a script was is refused at once, not waited on", "[script_cache]") {
  // Before, opening it waited for a writer: the run's worker hung, outside any deadline.
  test::TempDir dir;
  const auto path = dir.path() / "t.lua";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  run::ScriptCache cache(0ns);
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(cache.read(path, error));
  CHECK(error == "cannot read the script " + path.string() + ": not a regular file");
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}
