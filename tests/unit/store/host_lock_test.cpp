// The one-host lock is on the state file itself: every name of the file meets it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "../support/temp_dir.hpp"
#include "store/host_lock.hpp"

using namespace cronhost;

TEST_CASE("the host lock holds against the same path, a symlink and a hard link", "[store][lock]") {
  test::TempDir dir;
  const auto path = dir.path() / "state.db";
  auto held = store::lock_state_file(path);
  REQUIRE(held);
  std::filesystem::create_symlink(path, dir.path() / "symlink.db");
  std::filesystem::create_hard_link(path, dir.path() / "hard-link.db");
  std::filesystem::create_directory(dir.path() / "sub");
  for (const auto& other : {path, dir.path() / "symlink.db", dir.path() / "hard-link.db", dir.path() / "sub" / ".." / "state.db"}) {
    INFO(other);
    auto second = store::lock_state_file(other);
    REQUIRE_FALSE(second);
    CHECK(second.message() == "another cronhost (pid " + std::to_string(::getpid()) + ") is using the state file " +
                                  other.string() + " (it holds a lock on the file, whatever name reaches it)");
  }
  ::close(held.value());
  auto again = store::lock_state_file(dir.path() / "hard-link.db");  // released with the first
  REQUIRE(again);
  ::close(again.value());
}

TEST_CASE("a state file that cannot be opened says where and why", "[store][lock]") {
  test::TempDir dir;
  auto missing_folder = store::lock_state_file(dir.path() / "no-such-folder" / "state.db");
  REQUIRE_FALSE(missing_folder);
  CHECK(missing_folder.message() == "cannot open the state file " + (dir.path() / "no-such-folder" / "state.db").string() +
                                        ": No such file or directory");
}
