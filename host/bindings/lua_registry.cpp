// registry: tags of container images the job allows (allow.registry), from any OCI registry.
//
//   local tags, err = registry.tags("ghcr.io/acme/app")         -- every tag, registry order
//   local v, err = registry.latest("ghcr.io/acme/app", {prerelease = false, constraint = ">=1.0.0 <2.0.0"})
//   -- v is the highest tag that is a semantic version ("0.1.5"); nil, err when there is none
//
// Credentials come from the host config (registries:); anonymous, Basic and Bearer token
// registries all work. Failures (not found, authentication, outage) return nil, err; an
// image outside allow.registry or a bad argument raises.
#include "api/permissions.hpp"
#include "api/registry_client.hpp"
#include "api/semver.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

// The image's tags, or nil, err already pushed (returns false).
bool read_tags(lua_State* L, const char* function, std::vector<std::string>& tags, std::string& image_text) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  if (lua_type(L, 1) != LUA_TSTRING) raise(L, std::string(function) + ": the first argument must be an image name such as ghcr.io/acme/app");
  auto image = api::parse_image_name(lua_tostring(L, 1));
  if (!image) raise(L, std::string(function) + ": " + image.message());
  image_text = image->text();
  if (auto allowed = api::check_registry(ctx.job, image_text); !allowed) raise(L, allowed.message());
  if (ctx.effects.offline()) {
    fail(L, "registry: " + image_text + ": not read (offline dry run)");
    return false;
  }
  auto result = ctx.registry().tags(image.value());
  run::LuaSandbox::check_stop(L);
  if (!result) {
    fail(L, result.message());
    return false;
  }
  tags = std::move(result).value();
  return true;
}

int registry_tags(lua_State* L) {
  std::vector<std::string> tags;
  std::string image;
  if (!read_tags(L, "registry.tags", tags, image)) return 2;
  lua_createtable(L, static_cast<int>(tags.size()), 0);
  for (size_t i = 0; i < tags.size(); ++i) {
    lua_pushstring(L, tags[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int registry_latest(lua_State* L) {
  bool prerelease = false;
  std::optional<api::Constraint> constraint;
  if (!lua_isnoneornil(L, 2)) {
    TableArgs options(L, 2, "registry.latest", {"prerelease", "constraint"});
    prerelease = options.boolean("prerelease").value_or(false);
    if (auto text = options.string("constraint")) {
      auto parsed = api::Constraint::parse(*text);
      if (!parsed) options.error(parsed.message());
      constraint = std::move(parsed).value();
    }
  }
  std::vector<std::string> tags;
  std::string image;
  if (!read_tags(L, "registry.latest", tags, image)) return 2;
  const auto best = api::latest_tag(tags, prerelease, constraint ? &*constraint : nullptr);
  if (!best)
    return fail(L, "registry: " + image + " has no " + (prerelease ? "" : "release ") + "tag that is a semantic version" +
                       (constraint ? " within the constraint" : ""));
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
