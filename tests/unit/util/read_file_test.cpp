// Reading a whole file through one descriptor, up to a limit.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "util/read_file.hpp"

using namespace cronhost;

namespace {

struct Read {
  bool ok;
  std::string text;
  std::string error;
  off_t size;
};

Read read(const std::filesystem::path& path, size_t max_bytes) {
  Read out{};
  struct stat st {};
  out.ok = read_file(path, out.text, st, out.error, max_bytes);
  out.size = st.st_size;
  return out;
}

}  // namespace

TEST_CASE("a file is read whole, up to and including the limit", "[read_file]") {
  test::TempDir dir;
  const auto empty = read(dir.write("empty", ""), 8);
  CHECK(empty.ok);
  CHECK(empty.text.empty());
  const auto exact = read(dir.write("exact", "12345678"), 8);
  CHECK(exact.ok);
  CHECK(exact.text == "12345678");
  CHECK(exact.size == 8);
  const auto over = read(dir.write("over", "123456789"), 8);
  CHECK_FALSE(over.ok);
  CHECK(over.error == "9 bytes, at most 8");
  const auto large = read(dir.write("large", std::string(100'000, 'x')), SIZE_MAX);
  CHECK(large.ok);
  CHECK(large.text.size() == 100'000);
}

TEST_CASE("what is not a regular file is refused at once", "[read_file]") {
  test::TempDir dir;
  const auto fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto got = read(fifo, 8);
  CHECK_FALSE(got.ok);
  CHECK(got.error == "not a regular file");
  CHECK(read(dir.path() / "missing", 8).error == "No such file or directory");
}
