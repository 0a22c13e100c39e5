// A user name's ids, looked up through the system's user databases (NSS: /etc/passwd, LDAP,
// systemd). Apart from host_config.cpp: bin/cronhost is linked statically and must not reach
// NSS (a static glibc loads libnss_systemd and its shared libc, and crashes).
#pragma once
#include <string>

#include "util/status.hpp"

namespace cronhost::config {

// "uid:gid" of `name`, or why not ("no user named ...").
Result<std::string> user_ids(const std::string& name);

}  // namespace cronhost::config
