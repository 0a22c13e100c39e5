// The SQLite state file and the files beside it hold run output, kv values and the audit log:
// the host creates them 0600 (store/host_lock.cpp; SQLite gives -wal and -shm the main file's
// mode) whatever the umask. A file found wider is reported, not changed: an operator may have
// opened it to a backup group on purpose, and a silent chmod would break that unseen.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace cronhost::store {

struct LooseFile {
  std::filesystem::path path;
  std::string mode_text;  // "0644"
};

// The state file, its -wal and -shm and the mail dead-letter file that exist and that group
// or others may use (any of the 077 bits). Never throws; files it cannot stat are left out.
std::vector<LooseFile> state_files_open_to_others(const std::filesystem::path& state_file);

}  // namespace cronhost::store
