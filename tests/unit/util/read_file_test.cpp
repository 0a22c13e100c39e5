// Reading a whole file through one descriptor, up to a limit.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

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

namespace {

// Read system calls made by this thread so far (/proc/thread-self/io, read with a raw read
// of its own so the count's cost is the same each time).
long read_calls() {
  char buffer[512];
  const int fd = ::open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* at = std::strstr(buffer, "syscr: ");
  return at ? std::strtol(at + 7, nullptr, 10) : -1;
}

}  // namespace

TEST_CASE("a file read whole takes one read call when its size holds", "[read_file]") {
  test::TempDir dir;
  const auto small = dir.write("small", "schedule: {every: 1m}\n");
  const long baseline_before = read_calls(), baseline_after = read_calls();
  if (baseline_before < 0) {
    WARN("no /proc/thread-self/io (a kernel without task I/O accounting): the read calls are not counted");
    return;
  }
  const long counting_itself = baseline_after - baseline_before;
  const long before = read_calls();
  const auto got = read(small, 1024);
  const long after = read_calls();
  CHECK(got.ok);
  CHECK(got.text == "schedule: {every: 1m}\n");
  CHECK(after - before - counting_itself == 1);
}
