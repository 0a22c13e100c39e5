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
// A path must lead, after '..' and symlinks, into an allowed folder; anything else raises, as
// do folders given to remove and gzip. A missing file or an I/O failure returns nil, err.
// Writes (write, gzip) go to a temporary file that is synced and renamed into place, so a
// reader sees the old file or the new one, never a part. In a dry run list, stat and read are
// real, and stat and gzip see the files the dry run would have made (a backup, a .gz); write,
// remove, gzip and prune are captured, not performed, and answer as the live run would.
#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/file_ops.hpp"
#include "api/permissions.hpp"
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

// The argument at `index`, resolved and inside an allowed folder; raises otherwise.
fs::path check_path(lua_State* L, int index) {
  auto path = api::check_file(run::LuaSandbox::context(L).job, luaL_checkstring(L, index));
  if (!path) raise(L, path.message());
  return std::move(path).value();
}

// The directory entry the argument names. For a symlink that is the link itself, so that
// removing a link removes the link and not what it points to.
fs::path check_entry(lua_State* L, int index) {
  fs::path target = check_path(L, index);  // the denial names the path as the script gave it
  const fs::path requested(lua_tostring(L, index));
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(requested, ec))) return target;
  auto folder = api::check_file(run::LuaSandbox::context(L).job, requested.parent_path().string());
  if (!folder) raise(L, folder.message());
  return folder.value() / requested.filename();
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

std::string folder_error(const std::error_code& ec) {
  return ec == std::errc::no_such_file_or_directory ? "no such folder" : ec.message();
}

int files_list(lua_State* L) {
  const run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path dir = check_path(L, 1);
  const std::string pattern = luaL_optstring(L, 2, "*");
  std::error_code ec;
  std::vector<std::pair<std::string, api::FileInfo>> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!glob_match(pattern, name)) continue;
    // An entry that links out of the allowed folders is left out, as if it were not there.
    if (!api::check_file(ctx.job, it->path().string())) continue;
    auto info = api::stat_file(it->path());
    if (info) entries.emplace_back(std::move(name), info.value());  // else a dangling link, or just removed
  }
  if (ec) return fail(L, "files.list: " + dir.string() + ": " + folder_error(ec));
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  lua_createtable(L, static_cast<int>(entries.size()), 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    push_info(L, dir / entries[i].first, entries[i].second);
    lua_pushstring(L, entries[i].first.c_str());
    lua_setfield(L, -2, "name");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int files_stat(lua_State* L) {
  const run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path path = check_path(L, 1);
  if (const uintmax_t* size = ctx.effects.virtual_file(path)) {
    push_info(L, path, {*size, now_seconds(), false});
    mark_dry_run(L);
    return 1;
  }
  auto info = api::stat_file(path);
  if (!info) return fail(L, "files.stat: " + path.string() + ": " + info.message());
  push_info(L, path, info.value());
  return 1;
}

int files_remove(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path entry = check_entry(L, 1);
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(entry, ec);
  const bool virtual_file = ctx.effects.virtual_file(entry) != nullptr;
  if (status.type() == fs::file_type::directory)
    raise(L, "files.remove: " + entry.string() + " is a folder; only files can be removed");
  if (!virtual_file && !fs::exists(status)) return fail(L, "files.remove: " + entry.string() + ": no such file");
  if (!ctx.effects.live()) {
    ctx.effects.remove_virtual_file(entry);
    capture(ctx, "remove " + entry.string(), {{"op", "remove"}, {"path", printable(entry.string())}});
  } else if (!fs::remove(entry, ec) && ec) {
    return fail(L, "files.remove: " + entry.string() + ": " + ec.message());
  }
  lua_pushboolean(L, 1);
  return 1;
}

int files_write(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path path = check_path(L, 1);
  size_t len = 0;
  const char* content = luaL_checklstring(L, 2, &len);
  if (!ctx.effects.live()) {
    capture(ctx, "write " + path.string() + " (" + std::to_string(len) + " bytes)",
            {{"op", "write"}, {"path", printable(path.string())}, {"bytes", len}});
    ctx.effects.add_virtual_file(path, len);
  } else {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);  // inside the allowed folder: check_path resolved it
    if (ec) return fail(L, "files.write: " + path.parent_path().string() + ": " + ec.message());
    if (auto written = api::write_file_atomic(path, {content, len}); !written)
      return fail(L, "files.write: " + path.string() + ": " + written.message());
  }
  lua_pushinteger(L, static_cast<lua_Integer>(len));
  return 1;
}

int files_read(lua_State* L) {
  const run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path path = check_path(L, 1);
  double max_bytes = kDefaultMaxReadBytes;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "files.read", {"max_bytes"});
    max_bytes = options.number("max_bytes").value_or(max_bytes);
    if (!(max_bytes >= 0)) options.error("field 'max_bytes' must be 0 or more");
  }
  const auto limit = static_cast<size_t>(std::min(max_bytes, 1e12));
  const std::string where = "files.read: " + path.string() + ": ";
  if (ctx.effects.virtual_file(path)) return fail(L, where + "exists only in this dry run; its content was not written");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(L, where + (errno == ENOENT ? "no such file" : std::generic_category().message(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
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

int files_gzip(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path source = check_path(L, 1);
  bool remove_source = false;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "files.gzip", {"remove_source"});
    remove_source = options.boolean("remove_source").value_or(false);
  }
  uintmax_t source_bytes = 0;
  if (const uintmax_t* size = ctx.effects.virtual_file(source)) {
    source_bytes = *size;
  } else {
    auto info = api::stat_file(source);
    if (!info) return fail(L, "files.gzip: " + source.string() + ": " + info.message());
    if (info->dir) raise(L, "files.gzip: " + source.string() + " is a folder; only files can be compressed");
    source_bytes = info->size;
  }
  auto dest = api::check_file(ctx.job, source.string() + ".gz");
  if (!dest) raise(L, dest.message());

  if (!ctx.effects.live()) {
    const uintmax_t guess = source_bytes / kGuessedRatio + 20;  // + the gzip header and trailer
    capture(ctx,
            "gzip " + source.string() + " -> " + dest->string() + (remove_source ? " (source removed)" : "") + ", about " +
                std::to_string(guess) + " bytes (an estimate: a dry run compresses nothing)",
            {{"op", "gzip"}, {"path", printable(source.string())}, {"dest", printable(dest.value().string())},
             {"remove_source", remove_source}, {"estimated_bytes", guess}});
    ctx.effects.add_virtual_file(dest.value(), guess);
    if (remove_source) ctx.effects.remove_virtual_file(source);
    push_gzip(L, dest.value(), guess, source_bytes, true);
    mark_dry_run(L);
    return 1;
  }
  auto gzipped = api::gzip_file(source, dest.value(), [&ctx] { return !stopped(ctx); });
  if (!gzipped) {
    run::LuaSandbox::check_stop(L);
    return fail(L, "files.gzip: " + source.string() + ": " + gzipped.message());
  }
  std::error_code ec;
  if (remove_source && !fs::remove(source, ec) && ec)
    return fail(L, "files.gzip: wrote " + dest->string() + " but could not remove the source: " + ec.message());
  push_gzip(L, dest.value(), gzipped->bytes, gzipped->source_bytes);
  return 1;
}

// Keeps the newest `keep` matching files whatever their age; of the others removes those
// older than `older_than` (or all of them without it). Plain files only: never folders or links.
int files_prune(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const fs::path dir = check_path(L, 1);
  TableArgs options(L, 2, "files.prune", {"older_than", "pattern", "keep"});
  const std::string pattern = options.string("pattern").value_or("*");
  const std::optional<double> older_than = options.number("older_than");
  const std::optional<double> keep = options.number("keep");
  if (!older_than && !keep) options.error("give older_than, keep or both (prune never empties a folder by default)");
  if (older_than && !(*older_than >= 0)) options.error("field 'older_than' must be a number of seconds, 0 or more");
  if (keep && !(*keep >= 0 && *keep == static_cast<int64_t>(*keep))) options.error("field 'keep' must be a whole number, 0 or more");

  struct Candidate {
    fs::path path;
    int64_t mtime;
  };
  std::vector<Candidate> candidates;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    struct stat st {};
    if (!glob_match(pattern, name) || ::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    candidates.push_back({it->path(), st.st_mtim.tv_sec});
  }
  if (ec) return fail(L, "files.prune: " + dir.string() + ": " + folder_error(ec));
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.mtime != b.mtime ? a.mtime > b.mtime : a.path > b.path;  // newest first
  });

  const int64_t now = now_seconds();
  lua_newtable(L);
  lua_Integer removed = 0;
  for (size_t i = keep ? static_cast<size_t>(std::min(*keep, 1e9)) : 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (older_than && !(static_cast<double>(now - c.mtime) > *older_than)) continue;
    if (!ctx.effects.live()) {
      capture(ctx, "remove " + c.path.string(), {{"op", "remove"}, {"path", printable(c.path.string())}, {"by", "prune"}});
    } else if (!fs::remove(c.path, ec) && ec) {
      return fail(L, "files.prune: removed " + std::to_string(removed) + " files, then " + c.path.string() + ": " +
                         ec.message());
    }
    lua_pushstring(L, c.path.c_str());
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
