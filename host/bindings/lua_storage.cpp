// storage: object stores the host config names (storage:) and the job allows (allow.storage).
//
//   local up, err = storage.put("backups", "app/app-20261204.sql.gz", {path = "/var/backups/app/app.sql.gz"},
//                               {content_type = "application/gzip", metadata = {engine = "postgresql"}})
//   -- {key, bytes, parts}: streamed from disk, in parts above the store's multipart threshold
//   storage.put("backups", "app/LATEST", {content = "app-20261204.sql.gz"})
//   local got = storage.get("backups", "app/app-20261204.sql.gz", {path = "/var/restore/app.sql.gz"})  -- {path, bytes}
//   for _, o in ipairs(storage.list("backups", "app/")) do log.info(o.key, " ", o.size, " ", o.modified) end
//   storage.delete("backups", "app/old.sql.gz")                                                 -- true
//   local deleted = storage.prune("backups", "app/", {older_than = 30 * 86400, keep = 7})        -- the keys
//
// A store the job may not use, a bad key or a path outside allow.files raises; what the store
// or the network says is nil, "storage: backups: <what>". In a dry run list is performed,
// the rest is captured with store, key and size.
//
// This file only converts between Lua and api/run_storage, which plugins use too.
#include "api/call_fields.hpp"
#include "api/run_storage.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

api::RunStorage run_storage(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  return api::RunStorage(ctx.job, ctx.host,
                         api::DbRunScope{&ctx.effects, &ctx.redactor, ctx.deadline, [&ctx] { return ctx.cancelled(); }});
}

// An optional options table at `index`: absent or nil reads as {}.
void default_table(lua_State* L, int index) {
  if (lua_isnoneornil(L, index)) {
    lua_settop(L, index - 1);
    lua_newtable(L);
  }
}

int storage_put(lua_State* L) {
  const std::string store = luaL_checkstring(L, 1);
  const std::string key = luaL_checkstring(L, 2);
  default_table(L, 4);
  const api::StorageSource source = api::read_storage_source(TableArgs(L, 3, "storage.put", {"path", "content"}));
  const api::PutOptions options = api::read_storage_put_options(TableArgs(L, 4, "storage.put", {"content_type", "metadata"}));
  auto put = run_storage(L).put(store, key, source, options);
  if (!put) return call_failed(L, put);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, put->key.c_str());
  lua_setfield(L, -2, "key");
  lua_pushinteger(L, static_cast<lua_Integer>(put->bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, put->parts);
  lua_setfield(L, -2, "parts");
  if (put->dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
  return 1;
}

int storage_get(lua_State* L) {
  const std::string store = luaL_checkstring(L, 1);
  const std::string key = luaL_checkstring(L, 2);
  const std::string path = *TableArgs(L, 3, "storage.get", {"path"}).string("path", true);
  auto got = run_storage(L).get(store, key, path);
  if (!got) return call_failed(L, got);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, got->path.c_str());
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, static_cast<lua_Integer>(got->bytes));
  lua_setfield(L, -2, "bytes");
  if (got->dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
  return 1;
}

int storage_list(lua_State* L) {
  const std::string store = luaL_checkstring(L, 1);
  const std::string prefix = luaL_optstring(L, 2, "");
  auto listed = run_storage(L).list(store, prefix);
  if (!listed) return call_failed(L, listed);
  lua_createtable(L, static_cast<int>(listed.value().size()), 0);
  for (size_t i = 0; i < listed.value().size(); ++i) {
    const api::ObjectInfo& object = listed.value()[i];
    lua_createtable(L, 0, 3);
    lua_pushlstring(L, object.key.data(), object.key.size());
    lua_setfield(L, -2, "key");
    lua_pushinteger(L, static_cast<lua_Integer>(object.size));
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, object.modified);
    lua_setfield(L, -2, "modified");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int storage_delete(lua_State* L) {
  const std::string store = luaL_checkstring(L, 1);
  const std::string key = luaL_checkstring(L, 2);
  auto removed = run_storage(L).remove(store, key);
  if (!removed) return call_failed(L, removed);
  lua_pushboolean(L, 1);
  return 1;
}

int storage_prune(lua_State* L) {
  const std::string store = luaL_checkstring(L, 1);
  const std::string prefix = luaL_checkstring(L, 2);
  const api::StoragePruneOptions options =
      api::read_storage_prune_options(TableArgs(L, 3, "storage.prune", {"older_than", "keep"}));
  auto deleted = run_storage(L).prune(store, prefix, options);
  if (!deleted) return call_failed(L, deleted);
  lua_createtable(L, static_cast<int>(deleted.value().size()), 0);
  for (size_t i = 0; i < deleted.value().size(); ++i) {
    lua_pushlstring(L, deleted.value()[i].data(), deleted.value()[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

const luaL_Reg kStorageFunctions[] = {{"put", guarded<storage_put>},       {"get", guarded<storage_get>},
                                      {"list", guarded<storage_list>},     {"delete", guarded<storage_delete>},
                                      {"prune", guarded<storage_prune>},   {nullptr, nullptr}};

}  // namespace

void open_storage(lua_State* L) {
  luaL_newlib(L, kStorageFunctions);
  lua_setglobal(L, "storage");
}

}  // namespace cronhost::bindings
