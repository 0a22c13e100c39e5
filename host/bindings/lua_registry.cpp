// registry: tags of container images the job allows (allow.registry), from any OCI registry.
//
//   local tags, err = registry.tags("ghcr.io/acme/app")         -- every tag, registry order
//   local v, err = registry.latest("ghcr.io/acme/app", {prerelease = false, constraint = ">=1.0.0 <2.0.0"})
//   -- v is the highest tag that is a semantic version ("0.1.5"); nil, err when there is none
//
// Credentials come from the host config (registries:); anonymous, Basic and Bearer token
// registries all work. Failures (not found, authentication, outage) return nil, err; an
// image outside allow.registry or a bad argument raises.
#include "api/run_registry.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

api::RunRegistry run_registry(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  return api::RunRegistry(ctx.job, ctx.effects, [&ctx]() -> api::RegistryClient& { return ctx.registry(); });
}

std::string check_image(lua_State* L, const char* function) {
  if (lua_type(L, 1) != LUA_TSTRING) raise(L, std::string(function) + ": the first argument must be an image name such as ghcr.io/acme/app");
  return lua_tostring(L, 1);
}

int registry_tags(lua_State* L) {
  auto tags = run_registry(L).tags("registry.tags", check_image(L, "registry.tags"));
  if (!tags) return call_failed(L, tags);
  lua_createtable(L, static_cast<int>(tags->size()), 0);
  for (size_t i = 0; i < tags->size(); ++i) {
    lua_pushstring(L, tags.value()[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int registry_latest(lua_State* L) {
  api::LatestOptions options;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs args(L, 2, "registry.latest", {"prerelease", "constraint"});
    options.prerelease = args.boolean("prerelease").value_or(false);
    options.constraint = args.string("constraint");
    if (auto checked = api::RunRegistry::check_latest(options); !checked) args.error(checked.message());
  }
  auto best = run_registry(L).latest(check_image(L, "registry.latest"), options);
  if (!best) return call_failed(L, best);
  lua_pushstring(L, best->c_str());
  return 1;
}

const luaL_Reg kRegistryFunctions[] = {{"tags", guarded<registry_tags>}, {"latest", guarded<registry_latest>}, {nullptr, nullptr}};

}  // namespace

void open_registry(lua_State* L) {
  luaL_newlib(L, kRegistryFunctions);
  lua_setglobal(L, "registry");
}

}  // namespace cronhost::bindings
