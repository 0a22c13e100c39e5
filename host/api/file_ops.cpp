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

// 256 KiB: large enough that zlib, not the system calls, dominates the time of a chunk, and
// small enough that a deadline is noticed within milliseconds.
constexpr size_t kChunkBytes = size_t{256} << 10;

std::string errno_text(int error) { return std::generic_category().message(error); }

}  // namespace

Result<FileInfo> stat_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Result<FileInfo>::error(errno_text(errno));
  FileInfo info;
  info.dir = S_ISDIR(st.st_mode);
  info.size = info.dir ? 0 : static_cast<uintmax_t>(st.st_size);
  info.mtime = st.st_mtim.tv_sec;
  return info;
}

Result<TempFile> TempFile::create(int folder, std::string name) {
  Fd own(::fcntl(folder, F_DUPFD_CLOEXEC, 0));
  if (!own.valid()) return Result<TempFile>::error(errno_text(errno));
  struct stat existing {};
  const bool replacing = ::fstatat(folder, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(existing.st_mode);
  std::random_device random;
  for (int attempt = 0; attempt < 8; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".tmp-%08x", random());
    std::string temp_name = "." + name + suffix;
    // O_EXCL with mode 0666 rather than mkstemp: the umask applies, as to any new file.
    const int fd = ::openat(own.get(), temp_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return Result<TempFile>::error(errno_text(errno));
    if (replacing) ::fchmod(fd, existing.st_mode & 07777);
    return TempFile(std::move(own), std::move(name), std::move(temp_name), fd);
  }
  return Result<TempFile>::error("cannot make a unique temporary name for " + name);
}

TempFile::TempFile(TempFile&& other) noexcept
    : folder_(std::move(other.folder_)),
      name_(std::move(other.name_)),
      temp_name_(std::move(other.temp_name_)),
      fd_(other.fd_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;
}

TempFile::~TempFile() {
  close_descriptor();
  if (!committed_) ::unlinkat(folder_.get(), temp_name_.c_str(), 0);
}

std::string TempFile::proc_path() const {
  return "/proc/self/fd/" + std::to_string(folder_.get()) + "/" + temp_name_;
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
  if (::renameat(folder_.get(), temp_name_.c_str(), folder_.get(), name_.c_str()) != 0)
    return Status::error(errno_text(errno));
  committed_ = true;
  // A rename is durable only once the folder holding it is synced (the descriptor may be
  // O_PATH, which fsync refuses, so through a fresh one).
  Fd synced_folder(::openat(folder_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (synced_folder.valid()) ::fsync(synced_folder.get());
  return Status::ok();
}

Status write_file_atomic(int folder, const std::string& name, std::string_view content) {
  auto file = TempFile::create(folder, name);
  if (!file) return Status::error(file.message());
  if (auto written = file.value().write(content); !written) return written;
  return file.value().commit();
}

Result<GzipStats> gzip_file(int in, int dest_folder, const std::string& dest_name,
                            const std::function<bool()>& keep_going) {
  auto out = TempFile::create(dest_folder, dest_name);
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
