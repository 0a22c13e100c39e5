#include "plugin/landlock.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cronhost::plugin {
namespace {

// The ruleset as the newest ABI knows it; older kernels are given only the fields they know
// (Debian 12's header stops at ABI 2, so the later fields and bits are spelled out here).
struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;  // ABI 4
  uint64_t scoped = 0;              // ABI 6
};

constexpr uint64_t kFsAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ULL << 13;       // ABI 2
constexpr uint64_t kFsTruncate = 1ULL << 14;    // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;    // ABI 5
constexpr uint64_t kNetBindTcp = 1ULL << 0, kNetConnectTcp = 1ULL << 1;
constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0, kScopeSignal = 1ULL << 1;

constexpr uint64_t kReadFile = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
constexpr uint64_t kReadDir = kReadFile | LANDLOCK_ACCESS_FS_READ_DIR;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

int landlock_abi() {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

std::string landlock_summary() {
  const int abi = landlock_abi();
  if (abi == 0)
    return "Landlock is not available on this kernel: an isolated plugin can read every file its user can "
           "(the host's /proc stays closed: the host is not dumpable and the runner has no capabilities)";
  return "Landlock ABI " + std::to_string(abi) + ": an isolated plugin reads only system libraries and its own files";
}

const std::vector<std::string>& system_readable_paths() {
  // /usr holds the libraries (Debian links /lib* into it) and the zone data; /opt vendor SDKs.
  // Not /etc (shadow, keys), /home, /root, /proc, /sys, /tmp or the state file's folder.
  static const std::vector<std::string> paths = {
      "/usr",      "/lib",      "/lib64",       "/lib32",      "/opt",       "/etc/ld.so.cache", "/etc/localtime",
      "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
      "/sys/devices/system/cpu",  // glibc's sysconf(_SC_NPROCESSORS_*)
  };
  return paths;
}

Status restrict_file_access(const std::vector<std::string>& readable) {
  const int abi = landlock_abi();
  if (abi == 0) return Status::ok();
  RulesetAttr attr;
  attr.handled_access_fs = kFsAbi1 | (abi >= 2 ? kFsRefer : 0) | (abi >= 3 ? kFsTruncate : 0) | (abi >= 5 ? kFsIoctlDev : 0);
  size_t size = sizeof attr.handled_access_fs;
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;  // no rule: no TCP at all
    size += sizeof attr.handled_access_net;
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;  // nothing outside the runner
    size += sizeof attr.scoped;
  }
  const Fd ruleset{static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, size, 0))};
  if (ruleset.fd < 0) return Status::error(std::string("landlock_create_ruleset: ") + std::strerror(errno));
  for (const std::string& path : readable) {
    const Fd target{::open(path.c_str(), O_PATH | O_CLOEXEC)};
    if (target.fd < 0) continue;  // absent here (no /lib32, no /opt): nothing to allow
    struct stat st {};
    if (::fstat(target.fd, &st) != 0) continue;
    landlock_path_beneath_attr rule{};
    rule.allowed_access = S_ISDIR(st.st_mode) ? kReadDir : kReadFile;
    rule.parent_fd = target.fd;
    if (::syscall(SYS_landlock_add_rule, ruleset.fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
      return Status::error("landlock_add_rule " + path + ": " + std::strerror(errno));
  }
  if (::syscall(SYS_landlock_restrict_self, ruleset.fd, 0) != 0)
    return Status::error(std::string("landlock_restrict_self: ") + std::strerror(errno));
  return Status::ok();
}

}  // namespace cronhost::plugin
