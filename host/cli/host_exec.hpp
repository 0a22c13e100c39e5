// bin/cronhost and the host binary: which commands the small front binary answers itself, and
// handing every other one to the host binary (libexec/cronhost/cronhost).
#pragma once

namespace cronhost::cli {

// True when the command line asks only for what bin/cronhost answers: the `next` command with
// `--expr` (the first word that is neither an option nor an option's value; `-h` before it asks
// for the host's help; `next JOB` reads the jobs folder, the host's work) or `--version`
// without a command. Knows the root options of add_root_options.
bool front_answers(int argc, char** argv);

// Replaces this process with the host binary, same arguments and environment, so the process
// id systemd, signals and `ps` see stays the same. Returns only when it could not, having said
// why on stderr; the return value is the exit code (127: not found, 126: not runnable).
int exec_host_binary(char** argv);

}  // namespace cronhost::cli
