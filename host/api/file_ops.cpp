#include "api/file_ops.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>
#include <zlib.h>

namespace cronhost::api {
namespace {

namespace fs = std::filesystem;

// 256 KiB: large enough that zlib, not the system calls, dominates the time of a chunk, and
// small enough that a deadline is noticed within milliseconds.
constexpr size_t kChunkBytes = size_t{256} << 10;

std::string errno_text(int error) { return std::generic_category().message(error); }

struct Descriptor {
  int fd;
  ~Descriptor() { ::close(fd); }
};

}  // namespace

Result<FileInfo> stat_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Result<FileInfo>::error(errno == ENOENT || errno == ENOTDIR ? "no such file" : errno_text(errno));
  FileInfo info;
  info.dir = S_ISDIR(st.st_mode);
  info.size = info.dir ? 0 : static_cast<uintmax_t>(st.st_size);
  info.mtime = st.st_mtim.tv_sec;
  return info;
}

Result<TempFile> TempFile::create(const fs::path& target) {
  struct stat existing {};
  const bool replacing = ::stat(target.c_str(), &existing) == 0;
  std::random_device random;
  for (int attempt = 0; attempt < 8; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".tmp-%08x", random());
    fs::path path = target.parent_path() / ("." + target.filename().string() + suffix);
    // O_EXCL with mode 0666 rather than mkstemp: the umask applies, as to any new file.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return Result<TempFile>::error(errno_text(errno));
    if (replacing) ::fchmod(fd, existing.st_mode & 07777);
    return TempFile(target, std::move(path), fd);
  }
  return Result<TempFile>::error("cannot make a unique temporary name in " + target.parent_path().string());
}

TempFile::TempFile(TempFile&& other) noexcept
    : target_(std::move(other.target_)), path_(std::move(other.path_)), fd_(other.fd_), committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;
}

TempFile::~TempFile() {
  close_descriptor();
  if (!committed_) ::unlink(path_.c_str());
}

void TempFile::close_descriptor() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status TempFile::write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::error(errno_text(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status TempFile::commit() {
  if (fd_ >= 0) {
    const int synced = ::fsync(fd_);
    const int error = errno;
    close_descriptor();
    if (synced != 0) return Status::error(errno_text(error));
  }
  if (::rename(path_.c_str(), target_.c_str()) != 0) return Status::error(errno_text(errno));
  committed_ = true;
  // A rename is durable only once the folder holding it is synced.
  const int folder = ::open(target_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder >= 0) {
    ::fsync(folder);
    ::close(folder);
  }
  return Status::ok();
}

Status write_file_atomic(const fs::path& path, std::string_view content) {
  auto file = TempFile::create(path);
  if (!file) return Status::error(file.message());
  if (auto written = file.value().write(content); !written) return written;
  return file.value().commit();
}

Result<GzipStats> gzip_file(const fs::path& source, const fs::path& dest, const std::function<bool()>& keep_going) {
  const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Result<GzipStats>::error(errno == ENOENT ? "no such file" : errno_text(errno));
  Descriptor closer{in};
  auto out = TempFile::create(dest);
  if (!out) return Result<GzipStats>::error(out.message());

  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer, so gunzip and zcat read the result.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Result<GzipStats>::error("zlib could not start");
  struct Ender {
    z_stream& z;
    ~Ender() { deflateEnd(&z); }
  } ender{z};

  std::vector<unsigned char> input(kChunkBytes), output(kChunkBytes);
  GzipStats stats;
  for (int flush = Z_NO_FLUSH; flush != Z_FINISH;) {
    if (!keep_going()) return Result<GzipStats>::error("stopped");
    const ssize_t n = ::read(in, input.data(), input.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result<GzipStats>::error(errno_text(errno));
    stats.source_bytes += static_cast<uintmax_t>(n);
    flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    z.next_in = input.data();
    z.avail_in = static_cast<uInt>(n);
    do {  // deflate until it leaves room in the output: then it has taken all the input
      z.next_out = output.data();
      z.avail_out = static_cast<uInt>(output.size());
      deflate(&z, flush);
      const size_t have = output.size() - z.avail_out;
      if (auto written = out.value().write({reinterpret_cast<const char*>(output.data()), have}); !written)
        return Result<GzipStats>::error(written.message());
      stats.bytes += have;
    } while (z.avail_out == 0);
  }
  if (auto committed = out.value().commit(); !committed) return Result<GzipStats>::error(committed.message());
  return stats;
}

}  // namespace cronhost::api
