// A file's stamp, and when a stamp can be trusted to show the file's next change.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "../support/temp_dir.hpp"
#include "util/file_stamp.hpp"

using namespace cronhost;
using namespace std::chrono_literals;

TEST_CASE("a path's stamp is the stamp of the descriptor that read it", "[file_stamp]") {
  test::TempDir dir;
  const auto path = dir.write("a.yaml", "x: 1\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(stamp_file(path) == stamp_of(st));
  CHECK_FALSE(stamp_file(dir.path()));  // a folder has no stamp
  CHECK_FALSE(stamp_file(dir.path() / "missing"));
}

TEST_CASE("a stamp is settled once the file is older than the settle time, on a local file system",
          "[file_stamp]") {
  test::TempDir dir;  // the temporary folder is on ext4 or tmpfs here
  const auto path = dir.write("a.yaml", "x: 1\n");
  const FileStamp stamp = *stamp_file(path);
  const auto written = std::chrono::system_clock::time_point(std::chrono::nanoseconds(stamp.ctime_ns));
  CHECK_FALSE(stamp_settled(path, stamp, written + 1s, 2s));
  CHECK(stamp_settled(path, stamp, written + 3s, 2s));

  // /proc's times are not a disk file's: never settled, however old.
  struct stat st {};
  REQUIRE(::stat("/proc/self/status", &st) == 0);
  const FileStamp proc = stamp_of(st);
  CHECK_FALSE(stamp_settled("/proc/self/status", proc, std::chrono::system_clock::now() + 1h, 0s));
}
