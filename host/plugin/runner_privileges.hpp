// What the runner gives up before it loads a plugin, beyond the limits and the system call
// filter of runner_sandbox.hpp: the host's cgroup (for one that caps its tasks), the right to
// be read through /proc or ptrace by processes of the same user, and every capability, so
// that even a runner started by a root host cannot read another process's memory, override
// file permissions or regain privileges; and, with run_as:, the root host's user for one
// without privileges. Called once, single-threaded, in this order.
#pragma once
#include "util/status.hpp"

namespace cronhost::plugin {

// The environment variable that names the user ("uid:gid") the runner switches to (run_as:).
constexpr const char* kRunAsVariable = "CRONHOST_RUN_AS";

// Moves this process into the cgroup whose cgroup.procs file is `procs_file` (the host made
// it, with pids.max set: the cap on the run's threads).
Status join_cgroup(const char* procs_file);

// Becomes the user "uid:gid" with no supplementary groups (needs CAP_SETUID and
// CAP_SETGID: a root host). Its capabilities go with the switch.
Status switch_user(const char* uid_gid);

// Not dumpable (its /proc files and memory closed to other processes of its user), no
// ambient, inheritable, permitted or effective capabilities, an empty bounding set (when it
// may change it: a root runner), and no_new_privs.
Status drop_privileges();

}  // namespace cronhost::plugin
