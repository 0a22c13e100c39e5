#include "plugin/runner_sandbox.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace cronhost::plugin {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "the plugin sandbox knows x86_64 and aarch64; add this architecture's AUDIT_ARCH"
#endif

// Denied with EPERM: processes, signals to others, sockets, the system (see the header).
const int kDeniedEperm[] = {
    SYS_execve, SYS_execveat, SYS_kill, SYS_tkill, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo, SYS_pidfd_open,
    SYS_pidfd_send_signal, SYS_pidfd_getfd, SYS_socket, SYS_socketpair, SYS_ptrace, SYS_process_vm_readv,
    SYS_process_vm_writev, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_reboot, SYS_init_module,
    SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load, SYS_swapon, SYS_swapoff, SYS_setns,
    SYS_unshare, SYS_bpf, SYS_perf_event_open, SYS_keyctl, SYS_add_key, SYS_request_key, SYS_userfaultfd,
    SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_sethostname, SYS_setdomainname, SYS_acct,
    SYS_quotactl, SYS_fanotify_init, SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_move_mount, SYS_fsopen,
    SYS_fsmount, SYS_open_tree, SYS_fspick, SYS_fsconfig, SYS_mount_setattr, SYS_setpriority, SYS_ioprio_set,
    SYS_kcmp, SYS_process_madvise, SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
    // System V IPC and POSIX message queues: their objects outlive the run (and a segment
    // is memory outside the address-space limit).
    SYS_shmget, SYS_shmat, SYS_shmctl, SYS_shmdt, SYS_msgget, SYS_msgsnd, SYS_msgrcv, SYS_msgctl, SYS_semget,
    SYS_semop, SYS_semtimedop, SYS_semctl, SYS_mq_open, SYS_mq_unlink,
#ifdef SYS_ipc  // the one multiplexed call for all of System V IPC on older architectures
    SYS_ipc,
#endif
#ifdef SYS_fork  // the calls only older architectures (x86_64) have; aarch64 has just the *at forms
    SYS_fork, SYS_vfork, SYS_iopl, SYS_ioperm,
#endif
};

// Denied with EACCES: changes to the file system.
const int kDeniedEacces[] = {
    SYS_unlinkat, SYS_renameat, SYS_renameat2, SYS_mkdirat, SYS_linkat, SYS_symlinkat, SYS_fchmod, SYS_fchmodat,
    SYS_fchown, SYS_fchownat, SYS_truncate, SYS_mknodat, SYS_utimensat, SYS_setxattr, SYS_lsetxattr,
    SYS_fsetxattr, SYS_removexattr, SYS_lremovexattr, SYS_fremovexattr,
#ifdef SYS_creat
    SYS_creat, SYS_unlink, SYS_rename, SYS_mkdir, SYS_rmdir, SYS_link, SYS_symlink, SYS_chmod, SYS_chown, SYS_lchown,
    SYS_mknod, SYS_utime, SYS_utimes, SYS_futimesat,
#endif
};

// (system call, argument index) pairs where the argument is a process id.
const std::pair<int, int> kSelfOnly[] = {{SYS_prlimit64, 0},     {SYS_sched_setaffinity, 0}, {SYS_sched_setscheduler, 0},
                                         {SYS_sched_setparam, 0}, {SYS_sched_setattr, 0},     {SYS_migrate_pages, 0},
                                         {SYS_move_pages, 0}};

// fchmodat2, the first system call after those this filter was written against (Linux 6.6).
constexpr uint32_t kFirstUnknownSyscall = 452;

#ifdef SYS_openat2
constexpr int kNrOpenat2 = SYS_openat2;
#else
constexpr int kNrOpenat2 = 437;
#endif
#ifdef SYS_clone3
constexpr int kNrClone3 = SYS_clone3;
#else
constexpr int kNrClone3 = 435;
#endif

Status set_limit(int resource, const char* name, rlim_t soft, rlim_t hard) {
  const rlimit limit{soft, hard};
  if (setrlimit(resource, &limit) != 0) return Status::error(std::string("setrlimit ") + name + ": " + std::strerror(errno));
  return Status::ok();
}

// The filter as classic BPF, written out by hand: libseccomp builds the same in 600 us, a
// third of the whole budget of an isolated run; this takes a few.
std::vector<sock_filter> syscall_filter_program(uint32_t pid) {
  std::vector<sock_filter> p;
  const auto load = [&p](uint32_t offset) { p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); };
  const auto ret = [&p](uint32_t value) { p.push_back(BPF_STMT(BPF_RET | BPF_K, value)); };
  const auto errno_of = [](int error) { return SECCOMP_RET_ERRNO | (static_cast<uint32_t>(error) & SECCOMP_RET_DATA); };
  // On a match fall through to the next instruction, else skip `skip` instructions.
  const auto if_equal = [&p](uint32_t value, uint8_t skip) { p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, skip)); };
  const auto deny = [&](int nr, int error) {
    if (nr < 0) return;
    if_equal(static_cast<uint32_t>(nr), 1);
    ret(errno_of(error));
  };
  const uint32_t arg_low = offsetof(seccomp_data, args);  // little-endian: the low half first
  const auto arg = [&](int n) { return static_cast<uint32_t>(arg_low + 8 * n); };

  // Another architecture's system calls (int 0x80 on x86_64) have other numbers: kill.
  load(offsetof(seccomp_data, arch));
  if_equal(kAuditArch, 1);
  p.push_back(BPF_STMT(BPF_JMP | BPF_JA, 1));
  ret(SECCOMP_RET_KILL_PROCESS);
  load(offsetof(seccomp_data, nr));
#if defined(__x86_64__)
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1));  // the x32 ABI's numbers
  ret(SECCOMP_RET_KILL_PROCESS);
#endif
  // System calls newer than this list (fchmodat2 and on) are unknown to it: absent, to the plugin.
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kFirstUnknownSyscall, 0, 1));
  ret(errno_of(ENOSYS));
  for (int nr : kDeniedEperm) deny(nr, EPERM);
  for (int nr : kDeniedEacces) deny(nr, EACCES);
  deny(kNrOpenat2, ENOSYS);  // flags in a struct the filter cannot read; glibc falls back to openat
  deny(kNrClone3, ENOSYS);   // likewise; glibc then uses clone, whose flags are checked below

  // Calls that name a process: this one only (0 or its pid), never the host.
  for (const auto& [nr, index] : kSelfOnly) {
    if_equal(static_cast<uint32_t>(nr), 5);
    load(arg(index));
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pid, 0, 1));
    ret(SECCOMP_RET_ALLOW);
    ret(errno_of(EPERM));
  }
  // Commands that would signal another process (F_SETOWN and friends make the kernel send
  // SIGIO to it), undo the parent-death kill, or type into a terminal.
  const auto deny_commands = [&](int nr, int index, std::initializer_list<uint32_t> commands) {
    const auto n = static_cast<uint8_t>(commands.size());
    if_equal(static_cast<uint32_t>(nr), static_cast<uint8_t>(n + 3));
    load(arg(index));
    uint8_t k = 0;
    for (const uint32_t command : commands) p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, command, static_cast<uint8_t>(n - k++), 0));
    ret(SECCOMP_RET_ALLOW);
    ret(errno_of(EPERM));
  };
  deny_commands(SYS_fcntl, 1, {F_SETOWN, F_SETOWN_EX, F_SETSIG});
  deny_commands(SYS_ioctl, 1, {FIOSETOWN, SIOCSPGRP, TIOCSTI});
  deny_commands(SYS_prctl, 0, {PR_SET_PDEATHSIG, PR_SET_PTRACER});

  // clone: threads only.
  if_equal(SYS_clone, 4);
  load(arg(0));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
  ret(SECCOMP_RET_ALLOW);
  ret(errno_of(EPERM));
  // tgkill: to this process only (raise and abort use it).
  if_equal(SYS_tgkill, 4);
  load(arg(0));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pid, 0, 1));
  ret(SECCOMP_RET_ALLOW);
  ret(errno_of(EPERM));
  // open and openat: reading only.
  const uint32_t write_flags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
#ifdef SYS_open
  if_equal(SYS_open, 4);
  load(arg(1));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, write_flags, 0, 1));
  ret(errno_of(EACCES));
  ret(SECCOMP_RET_ALLOW);
#endif
  if_equal(SYS_openat, 4);
  load(arg(2));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, write_flags, 0, 1));
  ret(errno_of(EACCES));
  ret(SECCOMP_RET_ALLOW);
  ret(SECCOMP_RET_ALLOW);
  return p;
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
  const std::vector<sock_filter> program = syscall_filter_program(static_cast<uint32_t>(getpid()));
  const sock_fprog fprog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) != 0)
    return Status::error(std::string("seccomp: ") + std::strerror(errno));
  return Status::ok();
}

}  // namespace cronhost::plugin
