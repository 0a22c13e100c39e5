// Paths inside a job's allowed folders (allow.files), opened with no window between the
// check and the use. The allowed folder is opened once as a descriptor and the rest of the
// path is resolved by the kernel beneath it (openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_MAGICLINKS), so a folder swapped for a symlink mid-call can never lead
// outside: the kernel refuses any step out, however the tree changes meanwhile. Symlinks that
// stay inside the folder work; ones that leave it, absolute ones and /proc links are refused.
// A kernel without openat2 (before 5.6) gets a walk one component at a time with O_NOFOLLOW,
// which refuses every symlink; the host says so once in its log.
// Descriptors and plain functions: safe from any thread (set_resolver is for tests).
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

#include "config/job_spec.hpp"
#include "util/status.hpp"

namespace cronhost::api {

// A file descriptor that closes itself; -1 when empty.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A path a script gave, split into the allowed folder that holds it (opened) and the rest.
class AllowedPath {
 public:
  // `path` must be absolute and start with one of the job's allowed folders (as configured,
  // or with the folder's own symlinks resolved). Nothing past the folder is looked at here:
  // '..' and symlinks in the rest are the kernel's to resolve, beneath the folder.
  static Result<AllowedPath> locate(const config::JobSpec& job, std::string_view path);

  // The path as given, lexically normalized: what messages and results show.
  const std::filesystem::path& path() const { return shown_; }
  // The allow.files refusal for this path, which the open functions return when the path
  // leads out of the folder; is_denial tells it from other failures.
  const std::string& denial() const { return denial_; }
  bool is_denial(const std::string& message) const { return message == denial_; }

  // Opens the path with open(2) `flags` (O_CLOEXEC added); a final symlink is followed when
  // it stays inside. ENOENT and ENOTDIR are "no such file"; other failures the system's text.
  Result<Fd> open(int flags, mode_t mode = 0) const;
  // Opens `name`, an entry of the folder this path names, the same way.
  Result<Fd> open_entry(std::string_view name, int flags) const;

  struct Parent {
    Fd folder;         // O_RDONLY | O_DIRECTORY, beneath the allowed folder
    std::string name;  // the last component: never empty, '.' or '..'
  };
  // The folder holding the path's last component, and that component. With
  // `create_folders`, missing folders are made on the way (each beneath the allowed folder).
  // The allowed folder itself has no parent here: that is an error.
  Result<Parent> open_parent(bool create_folders) const;

 private:
  AllowedPath(Fd root, std::string rest, std::filesystem::path shown, std::string denial)
      : root_(std::move(root)), rest_(std::move(rest)), shown_(std::move(shown)), denial_(std::move(denial)) {}
  Result<Fd> open_rest(const std::string& rest, int flags, mode_t mode) const;

  Fd root_;           // the allowed folder, O_PATH
  std::string rest_;  // relative to it, "." for the folder itself
  std::filesystem::path shown_;
  std::string denial_;
};

// How paths beneath a folder are resolved. kAuto is openat2, or the walk when the kernel
// lacks it; tests force the walk to cover it.
enum class Resolver { kAuto, kComponentWalk };
void set_resolver(Resolver resolver);

}  // namespace cronhost::api
