#include "plugin/runner_sandbox.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace cronhost::plugin {
namespace {

Status set_limit(int resource, const char* name, rlim_t soft, rlim_t hard) {
  const rlimit limit{soft, hard};
  if (setrlimit(resource, &limit) != 0) return Status::error(std::string("setrlimit ") + name + ": " + std::strerror(errno));
  return Status::ok();
}

}  // namespace

Status apply_limits(const SandboxLimits& limits) {
  // The host going away must not leave plugins running unsupervised.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Status::error(std::string("prctl: ") + std::strerror(errno));
  if (getppid() == 1) return Status::error("the host is gone");
  Status status = set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0);
  if (status) status = set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", 64, 64);
  if (status) status = set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, 0);
  if (status && limits.memory_bytes) status = set_limit(RLIMIT_AS, "RLIMIT_AS", limits.memory_bytes, limits.memory_bytes);
  // SIGXCPU at the soft limit names the cause; SIGKILL a second later if it is ignored.
  if (status && limits.cpu_seconds)
    status = set_limit(RLIMIT_CPU, "RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1);
  return status;
}

Status install_syscall_filter() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Status::error(std::string("no_new_privs: ") + std::strerror(errno));
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (!filter) return Status::error("seccomp_init failed");
  // A syscall this architecture lacks is skipped: seccomp_rule_add fails for it, harmlessly.
  const auto deny = [filter](int error, const char* name) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr != __NR_SCMP_ERROR) seccomp_rule_add(filter, SCMP_ACT_ERRNO(error), nr, 0);
  };
  for (const char* name : {"fork", "vfork", "execve", "execveat", "kill", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
                           "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "socket", "socketpair", "ptrace",
                           "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot", "reboot",
                           "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "swapon",
                           "swapoff", "setns", "unshare", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
                           "userfaultfd", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
                           "setdomainname", "acct", "quotactl", "iopl", "ioperm", "fanotify_init", "open_by_handle_at",
                           "name_to_handle_at", "move_mount", "fsopen", "fsmount", "open_tree"})
    deny(EPERM, name);
  for (const char* name : {"creat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
                           "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown",
                           "lchown", "fchownat", "truncate", "mknod", "mknodat", "utime", "utimes", "utimensat",
                           "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
                           "fremovexattr"})
    deny(EACCES, name);
  // openat2 takes its flags in a struct the filter cannot read; glibc falls back to openat.
  deny(ENOSYS, "openat2");
  // clone3 likewise hides its flags; ENOSYS makes glibc use clone, whose flags are checked.
  deny(ENOSYS, "clone3");
  int rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  // tgkill to this process serves raise() and abort(); to any other it is denied.
  if (rc == 0)
    rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1,
                          SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(getpid())));
  for (const int flag : {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND}) {
    const auto bit = static_cast<scmp_datum_t>(flag);
    if (rc == 0) rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, bit, bit));
    if (rc == 0)
      rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, bit, bit));
  }
  if (rc == 0) rc = seccomp_load(filter);
  seccomp_release(filter);
  if (rc != 0) return Status::error(std::string("seccomp: ") + std::strerror(-rc));
  return Status::ok();
}

}  // namespace cronhost::plugin
