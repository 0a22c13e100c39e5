// files: files inside the folders the job allows (allow.files). Paths are absolute.
//
//   for _, f in ipairs(files.list("/var/backups/app", "*.gz")) do   -- by name: name, path, size, mtime, dir
//     log.info(f.name, " ", f.size)
//   end
//   local info, err = files.stat("/var/backups/app/app.db")         -- {size, mtime, dir, path}
//   files.write("/srv/site/status.html", html)                      -- bytes; atomic; folders created
//   local text = files.read("/srv/templates/report.txt", {max_bytes = 65536})   -- default cap 16 MiB
//   local gz = files.gzip("/var/backups/app/app.db", {remove_source = true})    -- {path, bytes, source_bytes}
//   files.remove("/var/backups/app/old.db.gz")                      -- true
//   local removed = files.prune("/var/backups/app", {pattern = "*.gz", older_than = 30 * 86400, keep = 7})
//
// A path must start with an allowed folder and lead, after '..' and symlinks, nowhere out of
// it: each call opens the folder and lets the kernel resolve the rest beneath it (see
// api/beneath.hpp), so a folder swapped for a symlink mid-call cannot lead out. Leading out
// raises, as do folders given to remove and gzip. A missing file or an I/O failure returns
// nil, err. Writes (write, gzip) go to a temporary file that is synced and renamed into place,
// so a reader sees the old file or the new one, never a part, and a link at the target is
// replaced, never written through. In a dry run list, stat and read are
// real, and stat and gzip see the files the dry run would have made (a backup, a .gz); write,
// remove, gzip and prune are captured, not performed, and answer as the live run would.
#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/beneath.hpp"
#include "api/file_ops.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"
#include "util/glob.hpp"

namespace cronhost::bindings {
namespace {

namespace fs = std::filesystem;

constexpr double kDefaultMaxReadBytes = 16 << 20;
constexpr size_t kReadChunkBytes = size_t{64} << 10;
// What a dry run's gzip expects: a guess, as the source is not read. SQLite files and logs
// usually shrink three to ten times, so a third errs on the large side.
constexpr uintmax_t kGuessedRatio = 3;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool stopped(const run::RunContext& ctx) { return ctx.cancelled() || std::chrono::steady_clock::now() >= ctx.deadline; }

// The argument at `index` inside an allowed folder; raises otherwise. Every operation then
// opens through it, so what was checked is what is used.
api::AllowedPath check_path(lua_State* L, int index) {
  auto path = api::AllowedPath::locate(run::LuaSandbox::context(L).job, luaL_checkstring(L, index));
  if (!path) raise(L, path.message());
  return std::move(path).value();
}

// A failed open: a path that leads out raises like any denial; anything else is the world
// failing, nil, err. `missing` is how "no such file" reads for this call.
int open_failed(lua_State* L, const std::string& function, const api::AllowedPath& path, const std::string& message,
                const std::string& missing = "no such file") {
  if (path.is_denial(message)) raise(L, message);
  return fail(L, function + ": " + path.path().string() + ": " + (message == "no such file" ? missing : message));
}

// Raises when the path leads out of the allowed folder (a symlink at its end included).
void check_inside(lua_State* L, const api::AllowedPath& path) {
  auto target = path.open(O_PATH);
  if (!target && path.is_denial(target.message())) raise(L, target.message());
}

void capture(run::RunContext& ctx, const std::string& summary, nlohmann::json detail) {
  ctx.effects.capture({"files", ctx.redact(summary), std::move(detail)});
}

void push_info(lua_State* L, const fs::path& path, const api::FileInfo& info) {
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, static_cast<lua_Integer>(info.size));
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, info.mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushboolean(L, info.dir);
  lua_setfield(L, -2, "dir");
  lua_pushstring(L, path.c_str());
  lua_setfield(L, -2, "path");
}

void mark_dry_run(lua_State* L) {
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "dry_run");
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

int files_list(lua_State* L) {
  const api::AllowedPath dir = check_path(L, 1);
  const std::string pattern = luaL_optstring(L, 2, "*");
  auto folder = dir.open(O_RDONLY | O_DIRECTORY);
  if (!folder) return open_failed(L, "files.list", dir, folder.message(), "no such folder");
  auto listed = read_folder(folder->get(), pattern);
  if (!listed) return fail(L, "files.list: " + dir.path().string() + ": " + listed.message());
  std::vector<std::pair<std::string, api::FileInfo>> entries;
  for (const Entry& entry : listed.value()) {
    api::FileInfo info{static_cast<uintmax_t>(entry.st.st_size), entry.st.st_mtim.tv_sec, S_ISDIR(entry.st.st_mode)};
    if (S_ISLNK(entry.st.st_mode)) {
      // A link that leads out of the allowed folder is left out, as if it were not there;
      // so is a dangling one.
      auto target = dir.open_entry(entry.name, O_PATH);
      if (!target) continue;
      auto followed = api::stat_fd(target->get());
      if (!followed) continue;
      info = followed.value();
    }
    if (info.dir) info.size = 0;
    entries.emplace_back(entry.name, info);
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  lua_createtable(L, static_cast<int>(entries.size()), 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    push_info(L, dir.path() / entries[i].first, entries[i].second);
    lua_pushstring(L, entries[i].first.c_str());
    lua_setfield(L, -2, "name");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int files_stat(lua_State* L) {
  const run::RunContext& ctx = run::LuaSandbox::context(L);
  const api::AllowedPath path = check_path(L, 1);
  if (const uintmax_t* size = ctx.effects.virtual_file(path.path())) {
    push_info(L, path.path(), {*size, now_seconds(), false});
    mark_dry_run(L);
    return 1;
  }
  auto file = path.open(O_PATH);
  if (!file) return open_failed(L, "files.stat", path, file.message());
  auto info = api::stat_fd(file->get());
  if (!info) return fail(L, "files.stat: " + path.path().string() + ": " + info.message());
  push_info(L, path.path(), info.value());
  return 1;
}

// Removes the directory entry: a symlink (one that stays inside) is removed, not what it
// points to.
int files_remove(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const api::AllowedPath path = check_path(L, 1);
  const std::string where = "files.remove: " + path.path().string();
  auto target = path.open(O_PATH);
  if (!target && path.is_denial(target.message())) raise(L, target.message());
  auto parent = path.open_parent(false);
  if (!parent) {
    if (target) {
      auto info = api::stat_fd(target->get());
      if (info && info->dir) raise(L, where + " is a folder; only files can be removed");
    }
    return open_failed(L, "files.remove", path, parent.message());
  }
  struct stat st {};
  const bool exists = ::fstatat(parent->folder.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISDIR(st.st_mode)) raise(L, where + " is a folder; only files can be removed");
  const bool virtual_file = ctx.effects.virtual_file(path.path()) != nullptr;
  if (!virtual_file && !exists) return fail(L, where + ": no such file");
  if (!ctx.effects.live()) {
    ctx.effects.remove_virtual_file(path.path());
    capture(ctx, "remove " + path.path().string(), {{"op", "remove"}, {"path", printable(path.path().string())}});
  } else if (::unlinkat(parent->folder.get(), parent->name.c_str(), 0) != 0 && errno != ENOENT) {
    return fail(L, where + ": " + std::generic_category().message(errno));
  }
  lua_pushboolean(L, 1);
  return 1;
}

int files_write(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const api::AllowedPath path = check_path(L, 1);
  size_t len = 0;
  const char* content = luaL_checklstring(L, 2, &len);
  check_inside(L, path);
  auto parent = path.open_parent(ctx.effects.live());  // the folders are made inside the allowed one
  if (!parent && path.is_denial(parent.message())) raise(L, parent.message());
  if (!ctx.effects.live()) {
    capture(ctx, "write " + path.path().string() + " (" + std::to_string(len) + " bytes)",
            {{"op", "write"}, {"path", printable(path.path().string())}, {"bytes", len}});
    ctx.effects.add_virtual_file(path.path(), len);
  } else {
    if (!parent) return fail(L, "files.write: " + path.path().parent_path().string() + ": " + parent.message());
    if (auto written = api::write_file_atomic(parent->folder.get(), parent->name, {content, len}); !written)
      return fail(L, "files.write: " + path.path().string() + ": " + written.message());
  }
  lua_pushinteger(L, static_cast<lua_Integer>(len));
  return 1;
}

int files_read(lua_State* L) {
  const run::RunContext& ctx = run::LuaSandbox::context(L);
  const api::AllowedPath path = check_path(L, 1);
  double max_bytes = kDefaultMaxReadBytes;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "files.read", {"max_bytes"});
    max_bytes = options.number("max_bytes").value_or(max_bytes);
    if (!(max_bytes >= 0)) options.error("field 'max_bytes' must be 0 or more");
  }
  const auto limit = static_cast<size_t>(std::min(max_bytes, 1e12));
  const std::string where = "files.read: " + path.path().string() + ": ";
  if (ctx.effects.virtual_file(path.path())) return fail(L, where + "exists only in this dry run; its content was not written");
  auto file = path.open(O_RDONLY);
  if (!file) return open_failed(L, "files.read", path, file.message());
  const int fd = file->get();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return fail(L, where + "is a folder");
  if (static_cast<size_t>(st.st_size) > limit)
    return fail(L, where + std::to_string(st.st_size) + " bytes, more than max_bytes (" + std::to_string(limit) + ")");
  luaL_Buffer buffer;  // in the run's memory, under its cap
  luaL_buffinit(L, &buffer);
  for (size_t total = 0;;) {
    char* chunk = luaL_prepbuffsize(&buffer, kReadChunkBytes);
    const ssize_t n = ::read(fd, chunk, kReadChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(L, where + std::generic_category().message(errno));
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (total > limit) return fail(L, where + "grew past max_bytes (" + std::to_string(limit) + ") while being read");
    luaL_addsize(&buffer, static_cast<size_t>(n));
  }
  luaL_pushresult(&buffer);
  return 1;
}

// {path, bytes, source_bytes}; a dry run's bytes are a guess, so it adds estimated = true.
void push_gzip(lua_State* L, const fs::path& dest, uintmax_t bytes, uintmax_t source_bytes, bool estimated = false) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, dest.c_str());
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, static_cast<lua_Integer>(bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, static_cast<lua_Integer>(source_bytes));
  lua_setfield(L, -2, "source_bytes");
  if (estimated) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "estimated");
  }
}

// The .gz goes beside the path as given; with remove_source that entry is removed.
int files_gzip(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const api::AllowedPath source = check_path(L, 1);
  bool remove_source = false;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "files.gzip", {"remove_source"});
    remove_source = options.boolean("remove_source").value_or(false);
  }
  const std::string where = "files.gzip: " + source.path().string();
  uintmax_t source_bytes = 0;
  api::Fd input;
  if (const uintmax_t* size = ctx.effects.virtual_file(source.path())) {
    source_bytes = *size;
  } else {
    auto file = source.open(O_RDONLY);
    if (!file) return open_failed(L, "files.gzip", source, file.message());
    auto info = api::stat_fd(file->get());
    if (!info) return fail(L, where + ": " + info.message());
    if (info->dir) raise(L, where + " is a folder; only files can be compressed");
    source_bytes = info->size;
    input = std::move(file.value());
  }
  auto dest = api::AllowedPath::locate(ctx.job, source.path().string() + ".gz");
  if (!dest) raise(L, dest.message());
  check_inside(L, dest.value());
  const fs::path dest_path = dest->path();

  if (!ctx.effects.live()) {
    const uintmax_t guess = source_bytes / kGuessedRatio + 20;  // + the gzip header and trailer
    capture(ctx,
            "gzip " + source.path().string() + " -> " + dest_path.string() + (remove_source ? " (source removed)" : "") +
                ", about " + std::to_string(guess) + " bytes (an estimate: a dry run compresses nothing)",
            {{"op", "gzip"}, {"path", printable(source.path().string())}, {"dest", printable(dest_path.string())},
             {"remove_source", remove_source}, {"estimated_bytes", guess}});
    ctx.effects.add_virtual_file(dest_path, guess);
    if (remove_source) ctx.effects.remove_virtual_file(source.path());
    push_gzip(L, dest_path, guess, source_bytes, true);
    mark_dry_run(L);
    return 1;
  }
  auto folder = dest->open_parent(false);
  if (!folder) return open_failed(L, "files.gzip", dest.value(), folder.message());
  auto gzipped = api::gzip_file(input.get(), folder->folder.get(), folder->name, [&ctx] { return !stopped(ctx); });
  if (!gzipped) {
    run::LuaSandbox::check_stop(L);
    return fail(L, where + ": " + gzipped.message());
  }
  if (remove_source) {
    auto source_folder = source.open_parent(false);
    if (!source_folder || (::unlinkat(source_folder->folder.get(), source_folder->name.c_str(), 0) != 0 && errno != ENOENT))
      return fail(L, "files.gzip: wrote " + dest_path.string() + " but could not remove the source: " +
                         (source_folder ? std::generic_category().message(errno) : source_folder.message()));
  }
  push_gzip(L, dest_path, gzipped->bytes, gzipped->source_bytes);
  return 1;
}

// Keeps the newest `keep` matching files whatever their age; of the others removes those
// older than `older_than` (or all of them without it). Plain files only: never folders or links.
int files_prune(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const api::AllowedPath dir = check_path(L, 1);
  TableArgs options(L, 2, "files.prune", {"older_than", "pattern", "keep"});
  const std::string pattern = options.string("pattern").value_or("*");
  const std::optional<double> older_than = options.number("older_than");
  const std::optional<double> keep = options.number("keep");
  if (!older_than && !keep) options.error("give older_than, keep or both (prune never empties a folder by default)");
  if (older_than && !(*older_than >= 0)) options.error("field 'older_than' must be a number of seconds, 0 or more");
  if (keep && !(*keep >= 0 && *keep == static_cast<int64_t>(*keep))) options.error("field 'keep' must be a whole number, 0 or more");

  auto folder = dir.open(O_RDONLY | O_DIRECTORY);
  if (!folder) return open_failed(L, "files.prune", dir, folder.message(), "no such folder");
  auto listed = read_folder(folder->get(), pattern);
  if (!listed) return fail(L, "files.prune: " + dir.path().string() + ": " + listed.message());
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
  lua_newtable(L);
  lua_Integer removed = 0;
  for (size_t i = keep ? static_cast<size_t>(std::min(*keep, 1e9)) : 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const std::string path = (dir.path() / c.name).string();
    if (older_than && !(static_cast<double>(now - c.mtime) > *older_than)) continue;
    if (!ctx.effects.live()) {
      capture(ctx, "remove " + path, {{"op", "remove"}, {"path", printable(path)}, {"by", "prune"}});
    } else if (::unlinkat(folder->get(), c.name.c_str(), 0) != 0 && errno != ENOENT) {
      return fail(L, "files.prune: removed " + std::to_string(removed) + " files, then " + path + ": " +
                         std::generic_category().message(errno));
    }
    lua_pushstring(L, path.c_str());
    lua_rawseti(L, -2, ++removed);
  }
  return 1;
}

const luaL_Reg kFilesFunctions[] = {{"list", guarded<files_list>},     {"stat", guarded<files_stat>},
                                    {"remove", guarded<files_remove>}, {"write", guarded<files_write>},
                                    {"read", guarded<files_read>},     {"gzip", guarded<files_gzip>},
                                    {"prune", guarded<files_prune>},   {nullptr, nullptr}};

}  // namespace

void open_files(lua_State* L) {
  luaL_newlib(L, kFilesFunctions);
  lua_setglobal(L, "files");
}

}  // namespace cronhost::bindings
