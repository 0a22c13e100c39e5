// Whole-file operations behind the files and db APIs: stat, atomic replacement and
// streaming gzip. They work on descriptors and names within an open folder (see beneath.hpp
// for how a job's path becomes those), so no path is looked up twice. They check no
// allowlist. No shared state: safe from any thread.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "api/beneath.hpp"
#include "util/status.hpp"

namespace cronhost::api {

struct FileInfo {
  uintmax_t size = 0;  // 0 for folders
  int64_t mtime = 0;   // unix seconds
  bool dir = false;
};

// What the descriptor refers to.
Result<FileInfo> stat_fd(int fd);

// A new file in `folder` under a unique hidden name, which becomes `name` there on commit()
// and is removed if never committed: readers see the old file or the whole new one, never a
// part. Replacing a file keeps its permissions; a new one gets 0666 less the umask. The
// entry `name` is replaced, never written through: a symlink or a hard link there is
// replaced by the new file and what it led to is left as it was.
class TempFile {
 public:
  static Result<TempFile> create(int folder, std::string name);
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile();

  // A name for writers that open the file by name (SQLite): through /proc/self/fd, so it
  // reaches this folder whatever happens to its path meanwhile.
  std::string proc_path() const;
  Status write(std::string_view data);
  // The open file (read and write), for writers that stream into it themselves.
  int fd() const { return fd_; }
  // Gives up the descriptor, for writers that open the file by name.
  void close_descriptor();
  // Syncs the file, renames it over the target and syncs the folder, so the new file
  // survives a crash once this returns.
  Status commit();

 private:
  TempFile(Fd folder, std::string name, std::string temp_name, int fd)
      : folder_(std::move(folder)), name_(std::move(name)), temp_name_(std::move(temp_name)), fd_(fd) {}
  Fd folder_;
  std::string name_, temp_name_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `content` to `name` in `folder` through a TempFile.
Status write_file_atomic(int folder, const std::string& name, std::string_view content);

struct GzipStats {
  uintmax_t bytes = 0;         // compressed size of dest
  uintmax_t source_bytes = 0;  // bytes read from source
};

// Compresses what `source` (open for reading) holds into `dest_name` in `dest_folder`, in
// gzip format, one chunk at a time so memory stays small whatever the size, through a
// TempFile so dest is whole or untouched. `keep_going` is asked between chunks; when it says
// no the result is the error "stopped" and the caller reports why (the run's deadline or cancel).
Result<GzipStats> gzip_file(int source, int dest_folder, const std::string& dest_name,
                            const std::function<bool()>& keep_going);

}  // namespace cronhost::api
