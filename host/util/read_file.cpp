#include "util/read_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace cronhost {

bool read_file(const char* path, std::string& text, struct stat& st, std::string& error, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO put where a script or job file was would wait for a writer
  // forever; it is refused below as not a regular file. Regular files ignore the flag.
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  bool ok = ::fstat(fd, &st) == 0;
  if (!ok) error = std::strerror(errno);
  if (ok && !S_ISREG(st.st_mode)) {
    error = "not a regular file";
    ok = false;
  }
  if (ok && static_cast<uint64_t>(st.st_size) > max_bytes) {
    error = std::to_string(st.st_size) + " bytes, at most " + std::to_string(max_bytes);
    ok = false;
  }
  // One byte more than the file holds: the read that finds the end then needs no bigger buffer.
  if (ok) text.resize(std::min(max_bytes, static_cast<size_t>(st.st_size) + 1));
  size_t done = 0;
  while (ok) {
    if (done == text.size()) {
      if (done >= max_bytes) {  // full: a file of max_bytes exactly ends here
        char probe;
        ssize_t more;
        do more = ::read(fd, &probe, 1);
        while (more < 0 && errno == EINTR);
        if (more == 0) break;
        error = more < 0 ? std::strerror(errno) : "more than " + std::to_string(max_bytes) + " bytes (the file grew while read)";
        ok = false;
        break;
      }
      text.resize(std::min(max_bytes, done + 4096 + done / 2));  // grown since the fstat
    }
    const size_t asked = text.size() - done;
    const ssize_t n = ::read(fd, text.data() + done, asked);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      ok = false;
    }
    if (n <= 0) break;
    done += static_cast<size_t>(n);
    // A short read that brings the size fstat gave is the end: no second read to find it
    // (a sixth of the system calls of loading a job file).
    if (static_cast<size_t>(n) < asked && done == static_cast<size_t>(st.st_size)) break;
  }
  ::close(fd);
  text.resize(ok ? done : 0);
  if (ok && done != static_cast<size_t>(st.st_size)) st.st_size = -1;
  return ok;
}

}  // namespace cronhost
