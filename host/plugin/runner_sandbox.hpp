// The walls around an isolated plugin, raised by the runner process before it loads the
// plugin: resource limits and a seccomp filter (runner_privileges.hpp and landlock.hpp hold
// the others). Called once, single-threaded.
//
// Denied (the call fails with EPERM, EACCES or ENOSYS; the process carries on):
//   - creating processes and running programs: fork, vfork, clone without CLONE_THREAD, execve
//     (threads are allowed);
//   - signalling or steering any other process: kill, tkill, tgkill to another process,
//     sigqueue, pidfd_*, fcntl F_SETOWN/F_SETOWN_EX/F_SETSIG, ioctl FIOSETOWN/SIOCSPGRP/TIOCSTI;
//     prlimit, sched_set* and migrate/move_pages on any process but itself; setpriority,
//     ioprio_set, kcmp, process_madvise; prctl PR_SET_PDEATHSIG (the parent-death kill stays);
//   - opening files for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND), creat,
//     and changing the file system: unlink, rename, mkdir, rmdir, link, symlink, chmod,
//     chown, truncate, mknod (writes go through the host's files API and allow.files);
//   - new sockets: socket, socketpair (HTTP goes through the host and allow.http);
//   - System V IPC (shmget, shmat, msgget, semget and the rest) and POSIX message queues,
//     whose objects would outlive the run;
//   - the system: ptrace, mount and the new mount API, chroot, pivot_root, reboot, modules,
//     kexec, swap, setns, unshare, bpf, perf_event_open, keyctl, userfaultfd, io_uring (its
//     operations would pass the filter unseen), setting the clock or host name;
//   - every system call newer than Linux 6.5 (ENOSYS), since this list cannot know it.
// Not covered here: reading files (open read-only is allowed); Landlock (landlock.hpp) narrows
// that to the system's libraries and the run's own files where the kernel has it.
// Limits: address space (the job's memory), CPU seconds (the job's timeout), 64 open files,
// no core dumps, no file growth, and SIGKILL when the host process dies.
#pragma once
#include <cstdint>
#include <string>

#include "util/status.hpp"

namespace cronhost::plugin {

struct SandboxLimits {
  uint64_t memory_bytes = 0;  // 0: unlimited
  uint64_t cpu_seconds = 0;   // 0: unlimited
};

Status apply_limits(const SandboxLimits& limits);
// The seccomp filter above; an error when the kernel refuses it (it is then not in force).
Status install_syscall_filter();

}  // namespace cronhost::plugin
