// Paths opened beneath an allowed folder: every static way out ('..', symlinks leading out,
// absolute symlinks, '..' after a symlink) refused by both resolvers, symlinks that stay
// inside kept by openat2 and refused by the O_NOFOLLOW walk, folders made only inside.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

#include "../support/temp_dir.hpp"
#include "api/beneath.hpp"

using namespace cronhost;
namespace fs = std::filesystem;

namespace {

// allowed/ with sub/file.txt; outside/ with secret.txt; the links the cases need.
struct Tree {
  test::TempDir dir;
  config::JobSpec job{.name = "files-job", .schedule = schedule::Schedule(schedule::After{"x", "succeeded"}, schedule::Zone::utc())};
  Tree() {
    dir.write("allowed/sub/file.txt", "inside");
    dir.write("outside/secret.txt", "secret");
    fs::create_directory_symlink(dir.path() / "outside", dir.path() / "allowed/out");            // leads out
    fs::create_directory_symlink("sub", dir.path() / "allowed/rel");                              // stays inside
    fs::create_symlink(dir.path() / "allowed/sub/file.txt", dir.path() / "allowed/absolute");    // inside, but absolute
    fs::create_symlink("../outside/secret.txt", dir.path() / "allowed/up");                       // relative, leads out
    job.allow.files = {dir.path() / "allowed"};
  }
  std::string at(const std::string& relative) const { return (dir.path() / relative).string(); }
  // "ok: <content>" or the error.
  std::string read(const std::string& relative) const {
    auto path = api::AllowedPath::locate(job, at(relative));
    if (!path) return path.message();
    auto fd = path->open(O_RDONLY);
    if (!fd) return fd.message();
    char buffer[64];
    const ssize_t n = ::read(fd->get(), buffer, sizeof buffer);
    return "ok: " + std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  }
  std::string denial(const std::string& relative) const {
    return "files: " + at(relative) + " is not allowed for job files-job (allow.files)";
  }
};

struct ResolverGuard {
  explicit ResolverGuard(api::Resolver resolver) { api::set_resolver(resolver); }
  ~ResolverGuard() { api::set_resolver(api::Resolver::kAuto); }
};

}  // namespace

TEST_CASE("beneath: no way out of the allowed folder, with either resolver", "[api][beneath]") {
  const auto resolver = GENERATE(api::Resolver::kAuto, api::Resolver::kComponentWalk);
  ResolverGuard guard(resolver);
  Tree tree;
  INFO("walk: " << (resolver == api::Resolver::kComponentWalk));
  CHECK(tree.read("allowed/sub/file.txt") == "ok: inside");
  CHECK(tree.read("allowed/./sub//file.txt") == "ok: inside");
  CHECK(tree.read("allowed/sub/../sub/file.txt") == "ok: inside");
  CHECK(tree.read("allowed/sub/none.txt") == "no such file");
  CHECK(tree.read("outside/secret.txt") == tree.denial("outside/secret.txt"));
  CHECK(tree.read("allowed/../outside/secret.txt") == tree.denial("allowed/../outside/secret.txt"));
  CHECK(tree.read("allowed/out/secret.txt") == tree.denial("allowed/out/secret.txt"));
  CHECK(tree.read("allowed/out/../allowed/sub/file.txt") == tree.denial("allowed/out/../allowed/sub/file.txt"));
  CHECK(tree.read("allowed/up") == tree.denial("allowed/up"));
  CHECK(tree.read("allowed/absolute") == tree.denial("allowed/absolute"));  // absolute links are refused even inside
  CHECK(tree.read("allowed/sub/../..") == tree.denial("allowed/sub/../.."));
  CHECK(api::AllowedPath::locate(tree.job, "allowed/sub").message() == "files: allowed/sub is not an absolute path");
  CHECK(api::AllowedPath::locate(tree.job, tree.at("allowed-old/x")).message() == tree.denial("allowed-old/x"));
  // A relative link that stays inside: kept by openat2, refused by the walk (which cannot
  // tell where a link leads without following it by name).
  const std::string kept = resolver == api::Resolver::kAuto ? "ok: inside" : tree.denial("allowed/rel/file.txt");
  CHECK(tree.read("allowed/rel/file.txt") == kept);
  CHECK(tree.read("allowed/rel/../sub/file.txt") ==
        (resolver == api::Resolver::kAuto ? "ok: inside" : tree.denial("allowed/rel/../sub/file.txt")));
}

TEST_CASE("beneath: folders are made inside only, and the parent of the folder itself is refused", "[api][beneath]") {
  const auto resolver = GENERATE(api::Resolver::kAuto, api::Resolver::kComponentWalk);
  ResolverGuard guard(resolver);
  Tree tree;
  auto deep = api::AllowedPath::locate(tree.job, tree.at("allowed/new/deeper/x.txt"));
  REQUIRE(deep);
  CHECK(deep->path() == fs::path(tree.at("allowed/new/deeper/x.txt")));
  auto parent = deep->open_parent(true);
  REQUIRE(parent);
  CHECK(parent->name == "x.txt");
  CHECK(fs::is_directory(tree.at("allowed/new/deeper")));

  auto out = api::AllowedPath::locate(tree.job, tree.at("allowed/out/made/x.txt"));
  REQUIRE(out);
  CHECK(out->open_parent(true).message() == tree.denial("allowed/out/made/x.txt"));
  CHECK_FALSE(fs::exists(tree.at("outside/made")));

  auto root = api::AllowedPath::locate(tree.job, tree.at("allowed"));
  REQUIRE(root);
  CHECK(root->open_parent(false).message() == "is the allowed folder itself, not a file in it");
  auto up = api::AllowedPath::locate(tree.job, tree.at("allowed/.."));
  REQUIRE(up);
  CHECK(up->open_parent(false).message() == tree.denial("allowed/.."));
}

TEST_CASE("beneath: an allowed folder configured through a symlink is reached by either name", "[api][beneath]") {
  Tree tree;
  fs::create_directory_symlink(tree.at("allowed"), tree.at("alias"));
  tree.job.allow.files = {tree.at("alias")};
  CHECK(tree.read("alias/sub/file.txt") == "ok: inside");
  CHECK(tree.read("allowed/sub/file.txt") == "ok: inside");
  CHECK(tree.read("alias/out/secret.txt") == tree.denial("alias/out/secret.txt"));
}
