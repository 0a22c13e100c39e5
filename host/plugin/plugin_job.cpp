#include "plugin/plugin_job.hpp"

#include "plugin/plugin_run.hpp"
#include "run/http_runner.hpp"
#include "run/lua_runner.hpp"

namespace cronhost::plugin {

namespace {

run::RunResult run_any(run::RunContext& ctx, const PluginCatalog& catalog) {
  if (ctx.job.http) return run::run_http(ctx);
  if (ctx.job.plugin.empty())
    return ctx.job.isolation == config::Isolation::kProcess
               ? run_lua_isolated(ctx, Isolation{catalog.runner(), ctx.job.memory_bytes, catalog.run_as()})
               : run::run_lua(ctx);
  auto build = catalog.find(ctx.job.plugin);
  if (!build) return {store::RunStatus::kFailed, "", build.message()};
  // The build stays alive (and, inline, loaded) until this run ends, whatever reloads do.
  const std::shared_ptr<const PluginBuild> held = build.value();
  if (ctx.job.isolation == config::Isolation::kInline) {
    auto loaded = held->loaded();
    if (!loaded) return {store::RunStatus::kFailed, "", "plugin " + ctx.job.plugin.string() + " cannot be loaded: " + loaded.message()};
    return run_inline(ctx, *loaded.value());
  }
  return run_isolated(ctx, held->snapshot(), Isolation{catalog.runner(), ctx.job.memory_bytes, catalog.run_as()});
}

}  // namespace

run::RunResult run_job(run::RunContext& ctx, const PluginCatalog& catalog) {
  // The run's failure, never the worker's: nothing thrown in serving a run may reach the pool.
  try {
    return run_any(ctx, catalog);
  } catch (const std::exception& e) {
    return {store::RunStatus::kFailed, "", ctx.redact(std::string("the host failed to serve the run: ") + e.what())};
  }
}

}  // namespace cronhost::plugin
