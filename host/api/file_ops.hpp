// Whole-file operations behind the files and db APIs: stat, atomic replacement and
// streaming gzip. Plain functions over paths that check no allowlist (the bindings do that
// first). No shared state: safe from any thread.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace cronhost::api {

struct FileInfo {
  uintmax_t size = 0;  // 0 for folders
  int64_t mtime = 0;   // unix seconds
  bool dir = false;
};

// What is at `path`, symlinks followed; the error is "no such file" when nothing is there.
Result<FileInfo> stat_file(const std::filesystem::path& path);

// A new file beside `target` under a unique hidden name, which becomes `target` on commit()
// and is removed if never committed: readers see the old file or the whole new one, never
// a part. Replacing a file keeps its permissions; a new one gets 0666 less the umask.
class TempFile {
 public:
  static Result<TempFile> create(const std::filesystem::path& target);
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile();

  const std::filesystem::path& path() const { return path_; }
  Status write(std::string_view data);
  // Gives up the descriptor, for writers that open the file by name (SQLite).
  void close_descriptor();
  // Syncs the file, renames it over the target and syncs the folder, so the new file
  // survives a crash once this returns.
  Status commit();

 private:
  TempFile(std::filesystem::path target, std::filesystem::path path, int fd)
      : target_(std::move(target)), path_(std::move(path)), fd_(fd) {}
  std::filesystem::path target_, path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `content` to `path` through a TempFile.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content);

struct GzipStats {
  uintmax_t bytes = 0;         // compressed size of dest
  uintmax_t source_bytes = 0;  // bytes read from source
};

// Compresses `source` into `dest` in gzip format, one chunk at a time so memory stays small
// whatever the size, through a TempFile so dest is whole or untouched. `keep_going` is asked
// between chunks; when it says no the result is the error "stopped" and the caller reports
// why (the run's deadline or cancel).
Result<GzipStats> gzip_file(const std::filesystem::path& source, const std::filesystem::path& dest,
                            const std::function<bool()>& keep_going);

}  // namespace cronhost::api
