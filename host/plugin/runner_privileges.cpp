#include "plugin/runner_privileges.hpp"

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/uid_gid.hpp"

namespace cronhost::plugin {
namespace {

Status failed(const std::string& what) { return Status::error(what + ": " + std::strerror(errno)); }

bool has_effective(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[capability / 32].effective & (1U << (capability % 32))) != 0;
}

}  // namespace

Status join_cgroup(const char* procs_file) {
  const int fd = ::open(procs_file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return failed(std::string("cannot join the run's cgroup ") + procs_file);
  const ssize_t n = ::write(fd, "0", 1);  // 0: the writing process
  const int error = errno;
  ::close(fd);
  errno = error;
  if (n != 1) return failed(std::string("cannot join the run's cgroup ") + procs_file);
  return Status::ok();
}

Status switch_user(const char* uid_gid) {
  const auto ids = parse_uid_gid(uid_gid);
  if (!ids) return Status::error(std::string("run_as is not uid:gid: ") + uid_gid);
  const std::string who = std::string("run_as ") + uid_gid + ": ";
  // The config refuses root and its group; this is the last wall if they came some other way.
  if (ids->uid == 0 || ids->gid == 0) return Status::error(who + "is root or its group (expected a user without privileges)");
  if (::setgroups(0, nullptr) != 0) return failed(who + "setgroups");
  if (::setresgid(ids->gid, ids->gid, ids->gid) != 0) return failed(who + "setgid");
  // Ids are below 4294967295 (parse_uid_gid): none is setresuid's "leave unchanged".
  if (::setresuid(ids->uid, ids->uid, ids->uid) != 0) return failed(who + "setuid");
  return Status::ok();
}

Status drop_privileges() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return failed("PR_SET_DUMPABLE");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return failed("PR_CAP_AMBIENT");
  // Emptying the bounding set needs CAP_SETPCAP; a runner without it has no capabilities to
  // lose, and no_new_privs keeps it from gaining any.
  if (has_effective(CAP_SETPCAP)) {
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap)
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return failed("PR_CAPBSET_DROP " + std::to_string(cap));
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, none) != 0) return failed("capset");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("no_new_privs");
  return Status::ok();
}

}  // namespace cronhost::plugin
