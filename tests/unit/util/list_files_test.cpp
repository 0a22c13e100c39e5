// Listing the job files under a folder without std::filesystem's iterator, as it listed them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "util/list_files.hpp"

using namespace cronhost;
namespace fs = std::filesystem;

namespace {

bool yaml(std::string_view name) { return name.ends_with(".yaml"); }

std::vector<std::string> sorted(std::vector<std::string> files) {
  std::sort(files.begin(), files.end());
  return files;
}

// What the loader listed before list_files: recursive_directory_iterator, hidden entries and
// folders skipped, wanted names that are regular files (links followed).
std::vector<std::string> listed_by_std(const std::string& root) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with('.')) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (yaml(name) && it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  REQUIRE_FALSE(ec);
  return sorted(files);
}

}  // namespace

TEST_CASE("files at every depth are listed with their paths under the root", "[list_files]") {
  test::TempDir dir;
  const std::string root = (dir.path() / "jobs.d").string();
  dir.write("jobs.d/a.yaml", "x");
  dir.write("jobs.d/team/b.yaml", "x");
  dir.write("jobs.d/team/deep/er/c.yaml", "x");
  dir.write("jobs.d/team/notes.txt", "x");
  dir.write("jobs.d/empty/README", "x");
  const auto listing = list_files(root, yaml);
  CHECK(listing.error.empty());
  CHECK(sorted(listing.files) ==
        std::vector<std::string>{root + "/a.yaml", root + "/team/b.yaml", root + "/team/deep/er/c.yaml"});
  CHECK(sorted(listing.files) == listed_by_std(root));
  // A root written with a slash at its end is not given a second one.
  CHECK(sorted(list_files(root + "/", yaml).files).front() == root + "/a.yaml");
}

TEST_CASE("hidden files and hidden folders, with all they hold, are not listed", "[list_files]") {
  test::TempDir dir;
  const std::string root = (dir.path() / "jobs.d").string();
  dir.write("jobs.d/.draft.yaml", "x");
  dir.write("jobs.d/.git/objects/x.yaml", "x");
  dir.write("jobs.d/sub/.hidden/y.yaml", "x");
  dir.write("jobs.d/sub/z.yaml", "x");
  const auto listing = list_files(root, yaml);
  CHECK(listing.error.empty());
  CHECK(listing.files == std::vector<std::string>{root + "/sub/z.yaml"});
  CHECK(sorted(listing.files) == listed_by_std(root));
}

TEST_CASE("a ConfigMap volume: links lead to files, never into folders", "[list_files]") {
  // As the kubelet mounts one: the files in a hidden timestamped folder, ..data linking to it
  // and each key linking through ..data. Each file counts once, under the key's name.
  test::TempDir dir;
  const fs::path root = dir.path() / "jobs.d";
  dir.write("jobs.d/..2026_12_04_18_00_00.1/backup.yaml", "x");
  fs::create_directory_symlink("..2026_12_04_18_00_00.1", root / "..data");
  fs::create_symlink("..data/backup.yaml", root / "backup.yaml");
  // A link to a folder elsewhere is not walked (recursive_directory_iterator's default).
  dir.write("elsewhere/other.yaml", "x");
  fs::create_directory_symlink(dir.path() / "elsewhere", root / "linked");
  // A link that leads to a folder, by a wanted name, is not a file.
  fs::create_directory_symlink(dir.path() / "elsewhere", root / "folder.yaml");
  const auto listing = list_files(root.string(), yaml);
  CHECK(listing.error.empty());
  CHECK(listing.files == std::vector<std::string>{(root / "backup.yaml").string()});
  CHECK(sorted(listing.files) == listed_by_std(root.string()));
}

TEST_CASE("what is not a regular file is not listed, but a wanted link that leads nowhere is, to be reported",
          "[list_files]") {
  test::TempDir dir;
  const fs::path root = dir.path() / "jobs.d";
  dir.write("jobs.d/ok.yaml", "x");
  REQUIRE(::mkfifo((root / "pipe.yaml").c_str(), 0600) == 0);
  fs::create_symlink("missing.txt", root / "dangling.txt");  // not a wanted name: not looked at
  const auto listing = list_files(root.string(), yaml);
  CHECK(listing.error.empty());
  CHECK(listing.files == std::vector<std::string>{(root / "ok.yaml").string()});
  CHECK(sorted(listing.files) == listed_by_std(root.string()));
  // A job file whose link leads nowhere is listed (the iterator left it out silently, and a
  // reload would have removed its job without a word): reading it fails and names it.
  fs::create_symlink("gone.yaml", root / "broken.yaml");
  const auto broken = list_files(root.string(), yaml);
  CHECK(broken.error.empty());
  CHECK(sorted(broken.files) == std::vector<std::string>{(root / "broken.yaml").string(), (root / "ok.yaml").string()});
}

TEST_CASE("a root that is missing or not a folder fails the listing at the root", "[list_files]") {
  test::TempDir dir;
  const auto missing = list_files((dir.path() / "nowhere").string(), yaml);
  CHECK(missing.files.empty());
  CHECK(missing.error == "No such file or directory");
  CHECK(missing.error_at == (dir.path() / "nowhere").string());
  const auto file = list_files(dir.write("plain.yaml", "x").string(), yaml);
  CHECK(file.error == "Not a directory");
}

TEST_CASE("folders nested past the longest path fail the listing rather than recurse without end", "[list_files]") {
  // What a bind mount of a folder inside itself looks like to a walker. The chain is made with
  // mkdirat, as no path to its bottom fits in PATH_MAX.
  test::TempDir dir;
  const fs::path root = dir.path() / "jobs.d";
  fs::create_directories(root);
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  const int levels = PATH_MAX / 2 + 10;  // "/d" a level
  for (int i = 0; i < levels; ++i) {
    REQUIRE(::mkdirat(fd, "d", 0700) == 0);
    const int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    REQUIRE(next >= 0);
    fd = next;
  }
  ::close(fd);
  const auto listing = list_files(root.string(), yaml);
  CHECK(listing.error == "File name too long");
  CHECK(listing.error_at.size() >= PATH_MAX);
  CHECK(listing.error_at.starts_with(root.string() + "/d/d/"));
}
