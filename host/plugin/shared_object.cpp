#include "plugin/shared_object.hpp"

#include <cstddef>
#include <dlfcn.h>

namespace cronhost::plugin {
namespace {

// Whether the plugin's struct, by its own struct_size, holds `field`.
#define PLUGIN_HAS(plugin, field) ((plugin)->struct_size >= offsetof(cronhost_plugin_t, field) + sizeof((plugin)->field))

}  // namespace

std::string abi_text(uint32_t abi_version) {
  return std::to_string(abi_version >> 16) + "." + std::to_string(abi_version & 0xFFFF);
}

Status check_abi(const cronhost_plugin_t* plugin) {
  if (!plugin) return Status::error(std::string(CRONHOST_ENTRY_POINT) + "() returned NULL");
  if ((plugin->abi_version >> 16) != CRONHOST_ABI_MAJOR)
    return Status::error("the plugin was built for ABI " + abi_text(plugin->abi_version) + " and this host speaks ABI " +
                         abi_text(CRONHOST_ABI_VERSION) + "; rebuild it against cronhost/plugin.h " +
                         std::to_string(CRONHOST_ABI_MAJOR) + ".x");
  if (!PLUGIN_HAS(plugin, run))
    return Status::error("the plugin's struct_size " + std::to_string(plugin->struct_size) + " is too small for ABI " +
                         abi_text(plugin->abi_version) + " (this host " + abi_text(CRONHOST_ABI_VERSION) + " needs at least " +
                         std::to_string(offsetof(cronhost_plugin_t, run) + sizeof(plugin->run)) + " bytes)");
  if (!plugin->name || !*plugin->name) return Status::error("the plugin has no name");
  if (!plugin->version) return Status::error("the plugin has no version");
  if (!plugin->run) return Status::error("the plugin has no run function");
  return Status::ok();
}

Result<std::shared_ptr<LoadedPlugin>> LoadedPlugin::open(const std::filesystem::path& path) {
  std::shared_ptr<LoadedPlugin> loaded(new LoadedPlugin());
  loaded->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!loaded->handle_) return Result<std::shared_ptr<LoadedPlugin>>::error(std::string("cannot load: ") + dlerror());
  dlerror();
  auto entry = reinterpret_cast<cronhost_entry_point_t>(dlsym(loaded->handle_, CRONHOST_ENTRY_POINT));
  if (!entry)
    return Result<std::shared_ptr<LoadedPlugin>>::error(std::string("not a cronhost plugin: it does not export ") +
                                                        CRONHOST_ENTRY_POINT);
  const cronhost_plugin_t* plugin = entry();
  if (auto status = check_abi(plugin); !status) return Result<std::shared_ptr<LoadedPlugin>>::error(status.message());
  loaded->info_ = {plugin->name, plugin->version,
                   PLUGIN_HAS(plugin, description) && plugin->description ? plugin->description : "", plugin->abi_version};
  if (plugin->init) {
    if (const int code = plugin->init(); code != 0)
      return Result<std::shared_ptr<LoadedPlugin>>::error("the plugin's init() refused to load (returned " +
                                                          std::to_string(code) + ")");
  }
  loaded->run_ = plugin->run;
  loaded->shutdown_ = PLUGIN_HAS(plugin, shutdown) ? plugin->shutdown : nullptr;
  return loaded;
}

LoadedPlugin::~LoadedPlugin() {
  if (run_ && shutdown_) shutdown_();  // only a plugin whose init() succeeded is shut down
  if (handle_) dlclose(handle_);
}

}  // namespace cronhost::plugin
