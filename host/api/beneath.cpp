#include "api/beneath.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "util/log.hpp"

namespace cronhost::api {
namespace {

namespace fs = std::filesystem;

std::atomic<Resolver> g_resolver{Resolver::kAuto};
std::atomic<bool> g_kernel_lacks_openat2{false};

std::vector<std::string> components(const fs::path& path) {
  std::vector<std::string> parts;
  for (const auto& part : path.relative_path()) {
    std::string text = part.string();
    if (!text.empty() && text != ".") parts.push_back(std::move(text));
  }
  return parts;
}

std::string join(std::vector<std::string>::const_iterator begin, std::vector<std::string>::const_iterator end) {
  std::string out;
  for (auto it = begin; it != end; ++it) out += (out.empty() ? "" : "/") + *it;
  return out.empty() ? "." : out;
}

// openat2 beneath `root`; retried when the kernel could not rule out a concurrent rename
// moving a '..' out (EAGAIN), which is what a swapping attacker causes.
int openat2_beneath(int root, const std::string& rest, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    const long fd = ::syscall(SYS_openat2, root, rest.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno == EINTR || (errno == EAGAIN && attempt < 64)) continue;
    return -1;
  }
}

bool is_symlink_at(int folder, const std::string& name) {
  struct stat st {};
  return ::fstatat(folder, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Without openat2: one component at a time, never following a symlink (ELOOP); '..' goes
// back to the folder it came from and never above the root (EXDEV), so no rename can move
// the walk outside.
int walk_beneath(int root, const std::string& rest, int flags, mode_t mode) {
  std::vector<std::string> parts = components(rest);
  std::vector<Fd> chain;
  chain.emplace_back(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!chain.back().valid()) return -1;
  const int final_flags = flags | O_CLOEXEC | O_NOFOLLOW;
  if (parts.empty()) return ::openat(root, ".", final_flags, mode);
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const int here = chain.back().get();
    if (parts[i] == "..") {
      if (chain.size() == 1) return errno = EXDEV, -1;
      chain.pop_back();
      if (last) return ::openat(chain.back().get(), ".", final_flags, mode);
      continue;
    }
    const int fd = ::openat(here, parts[i].c_str(), last ? final_flags : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                            last ? mode : 0);
    if (fd < 0) {
      if ((errno == ENOTDIR || errno == ELOOP) && is_symlink_at(here, parts[i])) errno = ELOOP;
      return -1;
    }
    if (last) {
      struct stat st {};
      if ((flags & O_PATH) && ::fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
        ::close(fd);
        return errno = ELOOP, -1;
      }
      return fd;
    }
    chain.emplace_back(fd);
  }
  return -1;  // not reached: the last component returns
}

int resolve_beneath(int root, const std::string& rest, int flags, mode_t mode) {
  if (g_resolver.load() == Resolver::kAuto && !g_kernel_lacks_openat2.load()) {
    const int fd = openat2_beneath(root, rest, flags, mode);
    if (fd >= 0 || errno != ENOSYS) return fd;
    if (!g_kernel_lacks_openat2.exchange(true))
      log_event(spdlog::level::warn,
                "this kernel has no openat2 (Linux 5.6+): allow.files paths are walked one folder at a time "
                "and symlinks in them are refused");
  }
  return walk_beneath(root, rest, flags, mode);
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

void set_resolver(Resolver resolver) { g_resolver = resolver; }

Result<AllowedPath> AllowedPath::locate(const config::JobSpec& job, std::string_view path) {
  const fs::path requested(path);
  if (!requested.is_absolute())
    return Result<AllowedPath>::error("files: " + std::string(path) + " is not an absolute path");
  const std::vector<std::string> parts = components(requested);
  std::string denial = "files: " + std::string(path) + " is not allowed for job " + job.name + " (allow.files)";

  // The outermost folder that holds the path, so that symlinks between nested allowed
  // folders keep working.
  std::optional<fs::path> best_folder;
  size_t best_length = 0;
  for (const auto& folder : job.allow.files) {
    std::error_code ec;
    for (const fs::path& form : {folder, fs::canonical(folder, ec)}) {
      if (form.empty()) continue;
      const std::vector<std::string> prefix = components(form);
      if (prefix.size() > parts.size() || !std::equal(prefix.begin(), prefix.end(), parts.begin())) continue;
      if (!best_folder || prefix.size() < best_length) {
        best_folder = form;
        best_length = prefix.size();
      }
    }
  }
  if (!best_folder) return Result<AllowedPath>::error(denial);
  // The operator's folder itself is trusted, symlinks and all.
  Fd root(::open(best_folder->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid() && errno == ENOENT) {
    // The operator named it: a folder not made yet (a first backup) is made, as before.
    std::error_code made;
    fs::create_directories(*best_folder, made);
    root = Fd(::open(best_folder->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  if (!root.valid())
    return Result<AllowedPath>::error("files: the allowed folder " + best_folder->string() + " (allow.files) cannot be opened: " +
                                      std::generic_category().message(errno));
  return AllowedPath(std::move(root), join(parts.begin() + static_cast<long>(best_length), parts.end()),
                     fs::path("/" + join(parts.begin(), parts.end())).lexically_normal(), std::move(denial));
}

Result<Fd> AllowedPath::open_rest(const std::string& rest, int flags, mode_t mode) const {
  const int fd = resolve_beneath(root_.get(), rest, flags, mode);
  if (fd >= 0) return Fd(fd);
  // EXDEV: a step out of the folder (a '..' or an absolute symlink); ELOOP: a magic link,
  // or any symlink in the walk. Both are the path leading where the job may not go.
  if (errno == EXDEV || errno == ELOOP) return Result<Fd>::error(denial_);
  if (errno == ENOENT || errno == ENOTDIR) return Result<Fd>::error("no such file");
  return Result<Fd>::error(std::generic_category().message(errno));
}

Result<Fd> AllowedPath::open(int flags, mode_t mode) const { return open_rest(rest_, flags, mode); }

Result<Fd> AllowedPath::open_entry(std::string_view name, int flags) const {
  return open_rest(rest_ + "/" + std::string(name), flags, 0);
}

Result<AllowedPath::Parent> AllowedPath::open_parent(bool create_folders) const {
  const std::vector<std::string> parts = components(rest_);
  if (parts.empty()) return Result<Parent>::error("is the allowed folder itself, not a file in it");
  if (parts.back() == "..") {
    if (auto target = open(O_PATH); !target) return Result<Parent>::error(target.message());
    return Result<Parent>::error("ends in '..', so it names a folder, not a file");
  }
  const std::string parent = join(parts.begin(), parts.end() - 1);
  auto folder = open_rest(parent, O_RDONLY | O_DIRECTORY, 0);
  if (!folder && create_folders && folder.message() == "no such file") {
    // Made one level at a time, each in a folder opened beneath the root.
    Fd here(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
    std::string prefix;
    for (auto it = parts.begin(); it != parts.end() - 1 && here.valid(); ++it) {
      prefix += (prefix.empty() ? "" : "/") + *it;
      if (::mkdirat(here.get(), it->c_str(), 0777) != 0 && errno != EEXIST)
        return Result<Parent>::error(std::generic_category().message(errno));
      auto next = open_rest(prefix, O_PATH | O_DIRECTORY, 0);
      if (!next) return Result<Parent>::error(next.message());
      here = std::move(next.value());
    }
    folder = open_rest(parent, O_RDONLY | O_DIRECTORY, 0);
  }
  if (!folder) return Result<Parent>::error(folder.message());
  return Parent{std::move(folder.value()), parts.back()};
}

}  // namespace cronhost::api
