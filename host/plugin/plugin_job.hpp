// Any job's run: a Lua script in its sandbox, or a plugin job's current build from the
// catalog, inline or isolated as the job says. Thread-safe as PluginCatalog::find is.
#pragma once
#include "plugin/plugin_catalog.hpp"
#include "run/run_context.hpp"

namespace cronhost::plugin {

run::RunResult run_job(run::RunContext& ctx, const PluginCatalog& catalog);

}  // namespace cronhost::plugin
