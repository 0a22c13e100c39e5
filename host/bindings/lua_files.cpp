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
//
// This file only converts between Lua and api/run_files, which plugins use too.
#include "api/run_files.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

namespace fs = std::filesystem;

api::RunFiles run_files(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  return api::RunFiles(ctx.job, ctx.effects, ctx.redactor,
                       [&ctx] { return ctx.cancelled() || std::chrono::steady_clock::now() >= ctx.deadline; });
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

int files_list(lua_State* L) {
  const std::string path = luaL_checkstring(L, 1);
  const std::string pattern = luaL_optstring(L, 2, "*");
  auto entries = run_files(L).list(path, pattern);
  if (!entries) return call_failed(L, entries);
  lua_createtable(L, static_cast<int>(entries->size()), 0);
  for (size_t i = 0; i < entries->size(); ++i) {
    const api::FileEntry& entry = entries.value()[i];
    push_info(L, entry.path, entry.info);
    lua_pushstring(L, entry.name.c_str());
    lua_setfield(L, -2, "name");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int files_stat(lua_State* L) {
  auto stat = run_files(L).stat(luaL_checkstring(L, 1));
  if (!stat) return call_failed(L, stat);
  push_info(L, stat->path, stat->info);
  if (stat->dry_run) mark_dry_run(L);
  return 1;
}

int files_remove(lua_State* L) {
  auto removed = run_files(L).remove(luaL_checkstring(L, 1));
  if (!removed) return call_failed(L, removed);
  lua_pushboolean(L, 1);
  return 1;
}

int files_write(lua_State* L) {
  const std::string path = luaL_checkstring(L, 1);
  size_t len = 0;
  const char* content = luaL_checklstring(L, 2, &len);
  auto written = run_files(L).write(path, {content, len});
  if (!written) return call_failed(L, written);
  lua_pushinteger(L, static_cast<lua_Integer>(written.value()));
  return 1;
}

int files_read(lua_State* L) {
  const std::string path = luaL_checkstring(L, 1);
  double max_bytes = api::RunFiles::kDefaultMaxReadBytes;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "files.read", {"max_bytes"});
    max_bytes = options.number("max_bytes").value_or(max_bytes);
    if (auto checked = api::RunFiles::check_max_bytes(max_bytes); !checked) options.error(checked.message());
  }
  lua_settop(L, 2);
  luaL_Buffer buffer;  // in the run's memory, under its cap
  luaL_buffinit(L, &buffer);
  auto read = run_files(L).read(path, max_bytes, [&buffer](std::string_view chunk) {
    luaL_addlstring(&buffer, chunk.data(), chunk.size());
    return true;
  });
  if (!read) return call_failed(L, read);
  luaL_pushresult(&buffer);
  return 1;
}

// {path, bytes, source_bytes}; a dry run's bytes are a guess, so it adds estimated = true.
int files_gzip(lua_State* L) {
  const std::string path = luaL_checkstring(L, 1);
  bool remove_source = false;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "files.gzip", {"remove_source"});
    remove_source = options.boolean("remove_source").value_or(false);
  }
  auto gzipped = run_files(L).gzip(path, remove_source);
  if (!gzipped) return call_failed(L, gzipped);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, gzipped->path.c_str());
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, static_cast<lua_Integer>(gzipped->bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, static_cast<lua_Integer>(gzipped->source_bytes));
  lua_setfield(L, -2, "source_bytes");
  if (gzipped->dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "estimated");
    mark_dry_run(L);
  }
  return 1;
}

int files_prune(lua_State* L) {
  const std::string path = luaL_checkstring(L, 1);
  TableArgs options(L, 2, "files.prune", {"older_than", "pattern", "keep"});
  api::PruneOptions given;
  given.pattern = options.string("pattern").value_or("*");
  given.older_than = options.number("older_than");
  given.keep = options.number("keep");
  auto removed = run_files(L).prune(path, given);
  if (!removed) return call_failed(L, removed);
  lua_createtable(L, static_cast<int>(removed->size()), 0);
  for (size_t i = 0; i < removed->size(); ++i) {
    lua_pushstring(L, removed.value()[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
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
