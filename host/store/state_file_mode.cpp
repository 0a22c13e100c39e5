#include "store/state_file_mode.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace cronhost::store {

std::vector<LooseFile> state_files_open_to_others(const std::filesystem::path& state_file) {
  std::vector<LooseFile> loose;
  const std::string base = state_file.string();
  for (const std::string& path : {base, base + "-wal", base + "-shm", base + ".dead-letter.jsonl"}) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) continue;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    loose.push_back({path, mode});
  }
  return loose;
}

}  // namespace cronhost::store
