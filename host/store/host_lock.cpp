#include "store/host_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace cronhost::store {
namespace {

// The pid holding a flock on (device, inode), from /proc/locks; 0 if none is listed. A line:
//   3: FLOCK  ADVISORY  WRITE 4242 00:2e:1234567 0 EOF
// (device as hex major:minor, inode in decimal; blocked waiters' lines have "->" after the
// number and are skipped).
pid_t flock_holder(const struct stat& file) {
  std::ifstream locks("/proc/locks");
  char wanted[64];
  std::snprintf(wanted, sizeof wanted, "%02x:%02x:%llu", major(file.st_dev), minor(file.st_dev),
                static_cast<unsigned long long>(file.st_ino));
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, pid, device;
    fields >> number >> kind >> mode >> access >> pid >> device;
    if (kind == "FLOCK" && device == wanted) return static_cast<pid_t>(std::atol(pid.c_str()));
  }
  return 0;
}

}  // namespace

Result<int> lock_state_file(const std::filesystem::path& state_path) {
  // A new state file is 0600 whatever the umask (run output, the audit log); SQLite gives its
  // -wal and -shm the same mode. An existing file keeps its mode (store/state_file_mode.hpp).
  int fd = ::open(state_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0)
    ::fchmod(fd, 0600);  // a umask such as 0277 would have left it unwritable
  else if (errno == EEXIST)
    fd = ::open(state_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Result<int>::error("cannot open the state file " + state_path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  const int error = errno;
  struct stat st {};
  const pid_t holder = ::fstat(fd, &st) == 0 ? flock_holder(st) : 0;
  ::close(fd);
  if (error != EWOULDBLOCK)
    return Result<int>::error("cannot lock the state file " + state_path.string() + ": " + std::strerror(error));
  return Result<int>::error("another cronhost " + (holder > 0 ? "(pid " + std::to_string(holder) + ") " : std::string()) +
                            "is using the state file " + state_path.string() +
                            " (it holds a lock on the file, whatever name reaches it)");
}

}  // namespace cronhost::store
