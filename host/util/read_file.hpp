// Reads a whole regular file through one descriptor: cheaper than an ifstream (no locale, no
// stream buffer), which matters when a host reads 100,000 job files or a script each run.
#pragma once
#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace cronhost {

// Fills `text` and `st` (from the same descriptor as the read); false with `error` set to
// the system's reason ("No such file or directory", "not a regular file": a FIFO is refused
// at once, not waited on). A file that grew
// or shrank while read has st.st_size set to -1. Files over max_bytes are refused unread
// (error "N bytes, at most M").
bool read_file(const char* path, std::string& text, struct stat& st, std::string& error, size_t max_bytes = SIZE_MAX);
inline bool read_file(const std::filesystem::path& path, std::string& text, struct stat& st, std::string& error,
                      size_t max_bytes = SIZE_MAX) {
  return read_file(path.c_str(), text, st, error, max_bytes);
}

}  // namespace cronhost
