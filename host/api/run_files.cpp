#include "api/run_files.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/beneath.hpp"
#include "util/glob.hpp"
#include "util/printable.hpp"

namespace cronhost::api {
namespace {

namespace fs = std::filesystem;

constexpr size_t kReadChunkBytes = size_t{64} << 10;
// What a dry run's gzip expects: a guess, as the source is not read. SQLite files and logs
// usually shrink three to ten times, so a third errs on the large side.
constexpr uintmax_t kGuessedRatio = 3;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A failed open: a path that leads out is a denial like any other; anything else is the
// world failing. `missing` is how "no such file" reads for this call.
template <typename T>
CallResult<T> open_failed(const std::string& function, const AllowedPath& path, const std::string& message,
                          const std::string& missing = "no such file") {
  if (path.is_denial(message)) return CallResult<T>::misuse(message);
  return CallResult<T>::failed(function + ": " + path.path().string() + ": " + (message == "no such file" ? missing : message));
}

// The denial when the path leads out of the allowed folder (a symlink at its end included).
std::optional<std::string> leads_out(const AllowedPath& path) {
  auto target = path.open(O_PATH);
  if (!target && path.is_denial(target.message())) return target.message();
  return std::nullopt;
}

struct Entry {
  std::string name;
  struct stat st;
};

// The entries of an open folder (not '.' and '..') whose names match `pattern`, as lstat
// sees them.
Result<std::vector<Entry>> read_folder(int folder, const std::string& pattern) {
  const int own = ::fcntl(folder, F_DUPFD_CLOEXEC, 0);
  DIR* dir = own < 0 ? nullptr : ::fdopendir(own);
  if (!dir) {
    const int error = errno;
    if (own >= 0) ::close(own);
    return Result<std::vector<Entry>>::error(std::generic_category().message(error));
  }
  std::vector<Entry> entries;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || !glob_match(pattern, name)) continue;
    Entry e{name, {}};
    if (::fstatat(folder, name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) == 0) entries.push_back(std::move(e));
  }
  ::closedir(dir);
  return entries;
}

}  // namespace

void RunFiles::capture(const std::string& summary, nlohmann::json detail) {
  effects_.capture({"files", redactor_.apply(summary), std::move(detail)});
}

CallResult<std::vector<FileEntry>> RunFiles::list(const std::string& path, const std::string& pattern) {
  using R = CallResult<std::vector<FileEntry>>;
  auto located = AllowedPath::locate(job_, path);
  if (!located) return R::misuse(located.message());
  const AllowedPath& dir = located.value();
  auto folder = dir.open(O_RDONLY | O_DIRECTORY);
  if (!folder) return open_failed<std::vector<FileEntry>>("files.list", dir, folder.message(), "no such folder");
  auto listed = read_folder(folder->get(), pattern);
  if (!listed) return R::failed("files.list: " + dir.path().string() + ": " + listed.message());
  std::vector<FileEntry> entries;
  for (const Entry& entry : listed.value()) {
    FileInfo info{static_cast<uintmax_t>(entry.st.st_size), entry.st.st_mtim.tv_sec, S_ISDIR(entry.st.st_mode)};
    if (S_ISLNK(entry.st.st_mode)) {
      // A link that leads out of the allowed folder is left out, as if it were not there;
      // so is a dangling one.
      auto target = dir.open_entry(entry.name, O_PATH);
      if (!target) continue;
      auto followed = stat_fd(target->get());
      if (!followed) continue;
      info = followed.value();
    }
    if (info.dir) info.size = 0;
    entries.push_back({entry.name, dir.path() / entry.name, info});
  }
  std::sort(entries.begin(), entries.end(), [](const FileEntry& a, const FileEntry& b) { return a.name < b.name; });
  return entries;
}

CallResult<FileStat> RunFiles::stat(const std::string& given) {
  using R = CallResult<FileStat>;
  auto located = AllowedPath::locate(job_, given);
  if (!located) return R::misuse(located.message());
  const AllowedPath& path = located.value();
  if (const uintmax_t* size = effects_.virtual_file(path.path())) return FileStat{path.path(), {*size, now_seconds(), false}, true};
  auto file = path.open(O_PATH);
  if (!file) return open_failed<FileStat>("files.stat", path, file.message());
  auto info = stat_fd(file->get());
  if (!info) return R::failed("files.stat: " + path.path().string() + ": " + info.message());
  return FileStat{path.path(), info.value(), false};
}

CallResult<CallDone> RunFiles::remove(const std::string& given) {
  using R = CallResult<CallDone>;
  auto located = AllowedPath::locate(job_, given);
  if (!located) return R::misuse(located.message());
  const AllowedPath& path = located.value();
  const std::string where = "files.remove: " + path.path().string();
  auto target = path.open(O_PATH);
  if (!target && path.is_denial(target.message())) return R::misuse(target.message());
  auto parent = path.open_parent(false);
  if (!parent) {
    if (target) {
      auto info = stat_fd(target->get());
      if (info && info->dir) return R::misuse(where + " is a folder; only files can be removed");
    }
    return open_failed<CallDone>("files.remove", path, parent.message());
  }
  struct stat st {};
  const bool exists = ::fstatat(parent->folder.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISDIR(st.st_mode)) return R::misuse(where + " is a folder; only files can be removed");
  const bool virtual_file = effects_.virtual_file(path.path()) != nullptr;
  if (!virtual_file && !exists) return R::failed(where + ": no such file");
  if (!effects_.live()) {
    effects_.remove_virtual_file(path.path());
    capture("remove " + path.path().string(), {{"op", "remove"}, {"path", printable(path.path().string())}});
  } else if (::unlinkat(parent->folder.get(), parent->name.c_str(), 0) != 0 && errno != ENOENT) {
    return R::failed(where + ": " + std::generic_category().message(errno));
  }
  return CallDone{};
}

CallResult<size_t> RunFiles::write(const std::string& given, std::string_view content) {
  using R = CallResult<size_t>;
  auto located = AllowedPath::locate(job_, given);
  if (!located) return R::misuse(located.message());
  const AllowedPath& path = located.value();
  if (auto denial = leads_out(path)) return R::misuse(*denial);
  auto parent = path.open_parent(effects_.live());  // the folders are made inside the allowed one
  if (!parent && path.is_denial(parent.message())) return R::misuse(parent.message());
  if (!effects_.live()) {
    capture("write " + path.path().string() + " (" + std::to_string(content.size()) + " bytes)",
            {{"op", "write"}, {"path", printable(path.path().string())}, {"bytes", content.size()}});
    effects_.add_virtual_file(path.path(), content.size());
  } else {
    if (!parent) return R::failed("files.write: " + path.path().parent_path().string() + ": " + parent.message());
    if (auto written = write_file_atomic(parent->folder.get(), parent->name, content); !written)
      return R::failed("files.write: " + path.path().string() + ": " + written.message());
  }
  return content.size();
}

Status RunFiles::check_max_bytes(double max_bytes) {
  if (!(max_bytes >= 0)) return Status::error("field 'max_bytes' must be 0 or more");
  return Status::ok();
}

CallResult<CallDone> RunFiles::read(const std::string& given, double max_bytes,
                                    const std::function<bool(std::string_view)>& append) {
  using R = CallResult<CallDone>;
  auto located = AllowedPath::locate(job_, given);
  if (!located) return R::misuse(located.message());
  const AllowedPath& path = located.value();
  const auto limit = static_cast<size_t>(std::min(max_bytes, 1e12));
  const std::string where = "files.read: " + path.path().string() + ": ";
  if (effects_.virtual_file(path.path())) return R::failed(where + "exists only in this dry run; its content was not written");
  auto file = path.open(O_RDONLY);
  if (!file) return open_failed<CallDone>("files.read", path, file.message());
  const int fd = file->get();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return R::failed(where + "is a folder");
  if (static_cast<size_t>(st.st_size) > limit)
    return R::failed(where + std::to_string(st.st_size) + " bytes, more than max_bytes (" + std::to_string(limit) + ")");
  std::string chunk(kReadChunkBytes, '\0');
  for (size_t total = 0;;) {
    const ssize_t n = ::read(fd, chunk.data(), kReadChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return R::failed(where + std::generic_category().message(errno));
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (total > limit) return R::failed(where + "grew past max_bytes (" + std::to_string(limit) + ") while being read");
    if (!append(std::string_view(chunk.data(), static_cast<size_t>(n))))
      return R::failed(where + "more than the caller can hold");
  }
  return CallDone{};
}

CallResult<GzipOutcome> RunFiles::gzip(const std::string& given, bool remove_source) {
  using R = CallResult<GzipOutcome>;
  auto located = AllowedPath::locate(job_, given);
  if (!located) return R::misuse(located.message());
  const AllowedPath& source = located.value();
  const std::string where = "files.gzip: " + source.path().string();
  uintmax_t source_bytes = 0;
  Fd input;
  if (const uintmax_t* size = effects_.virtual_file(source.path())) {
    source_bytes = *size;
  } else {
    auto file = source.open(O_RDONLY);
    if (!file) return open_failed<GzipOutcome>("files.gzip", source, file.message());
    auto info = stat_fd(file->get());
    if (!info) return R::failed(where + ": " + info.message());
    if (info->dir) return R::misuse(where + " is a folder; only files can be compressed");
    source_bytes = info->size;
    input = std::move(file.value());
  }
  auto dest = AllowedPath::locate(job_, source.path().string() + ".gz");
  if (!dest) return R::misuse(dest.message());
  if (auto denial = leads_out(dest.value())) return R::misuse(*denial);
  const fs::path dest_path = dest->path();

  if (!effects_.live()) {
    const uintmax_t guess = source_bytes / kGuessedRatio + 20;  // + the gzip header and trailer
    capture("gzip " + source.path().string() + " -> " + dest_path.string() + (remove_source ? " (source removed)" : "") +
                ", about " + std::to_string(guess) + " bytes (an estimate: a dry run compresses nothing)",
            {{"op", "gzip"}, {"path", printable(source.path().string())}, {"dest", printable(dest_path.string())},
             {"remove_source", remove_source}, {"estimated_bytes", guess}});
    effects_.add_virtual_file(dest_path, guess);
    if (remove_source) effects_.remove_virtual_file(source.path());
    return GzipOutcome{dest_path, guess, source_bytes, true};
  }
  auto folder = dest->open_parent(false);
  if (!folder) return open_failed<GzipOutcome>("files.gzip", dest.value(), folder.message());
  auto gzipped = gzip_file(input.get(), folder->folder.get(), folder->name, [this] { return !stop_now_(); });
  if (!gzipped) return R::failed(where + ": " + gzipped.message());  // the adapter reports a stop first
  if (remove_source) {
    auto source_folder = source.open_parent(false);
    if (!source_folder || (::unlinkat(source_folder->folder.get(), source_folder->name.c_str(), 0) != 0 && errno != ENOENT))
      return R::failed("files.gzip: wrote " + dest_path.string() + " but could not remove the source: " +
                       (source_folder ? std::generic_category().message(errno) : source_folder.message()));
  }
  return GzipOutcome{dest_path, gzipped->bytes, gzipped->source_bytes, false};
}

Status RunFiles::check_prune(const PruneOptions& options) {
  const auto& older_than = options.older_than;
  const auto& keep = options.keep;
  if (!older_than && !keep) return Status::error("give older_than, keep or both (prune never empties a folder by default)");
  if (older_than && !(*older_than >= 0)) return Status::error("field 'older_than' must be a number of seconds, 0 or more");
  if (keep && !(*keep >= 0 && *keep == static_cast<int64_t>(*keep)))
    return Status::error("field 'keep' must be a whole number, 0 or more");
  return Status::ok();
}

CallResult<std::vector<std::string>> RunFiles::prune(const std::string& given, const PruneOptions& options) {
  using R = CallResult<std::vector<std::string>>;
  auto located = AllowedPath::locate(job_, given);
  if (!located) return R::misuse(located.message());
  if (auto checked = check_prune(options); !checked) return R::misuse("files.prune: " + checked.message());
  const AllowedPath& dir = located.value();
  auto folder = dir.open(O_RDONLY | O_DIRECTORY);
  if (!folder) return open_failed<std::vector<std::string>>("files.prune", dir, folder.message(), "no such folder");
  auto listed = read_folder(folder->get(), options.pattern);
  if (!listed) return R::failed("files.prune: " + dir.path().string() + ": " + listed.message());
  struct Candidate {
    std::string name;
    int64_t mtime;
  };
  std::vector<Candidate> candidates;
  for (const Entry& entry : listed.value())
    if (S_ISREG(entry.st.st_mode)) candidates.push_back({entry.name, entry.st.st_mtim.tv_sec});
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.mtime != b.mtime ? a.mtime > b.mtime : a.name > b.name;  // newest first
  });

  const int64_t now = now_seconds();
  std::vector<std::string> removed;
  for (size_t i = options.keep ? static_cast<size_t>(std::min(*options.keep, 1e9)) : 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const std::string path = (dir.path() / c.name).string();
    if (options.older_than && !(static_cast<double>(now - c.mtime) > *options.older_than)) continue;
    if (!effects_.live()) {
      capture("remove " + path, {{"op", "remove"}, {"path", printable(path)}, {"by", "prune"}});
    } else if (::unlinkat(folder->get(), c.name.c_str(), 0) != 0 && errno != ENOENT) {
      return R::failed("files.prune: removed " + std::to_string(removed.size()) + " files, then " + path + ": " +
                       std::generic_category().message(errno));
    }
    removed.push_back(path);
  }
  return removed;
}

}  // namespace cronhost::api
