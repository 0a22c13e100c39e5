// A plugin shared object, loaded and checked: dlopen (RTLD_NOW | RTLD_LOCAL), the entry
// point, the ABI version and struct size, then init(). Unloading calls shutdown() and
// dlclose(). Used by the runner process and by inline runs in the host.
// A LoadedPlugin may run on several threads at once if the plugin allows it; construction
// and destruction are the owner's.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "cronhost/plugin.h"
#include "util/status.hpp"

namespace cronhost::plugin {

struct PluginInfo {
  std::string name;
  std::string version;
  std::string description;
  uint32_t abi_version = 0;
};

// "1.1" for 0x00010001.
std::string abi_text(uint32_t abi_version);

// Checks a plugin's description against this host's ABI; the message names both versions.
Status check_abi(const cronhost_plugin_t* plugin);

class LoadedPlugin {
 public:
  // Loads and initialises the plugin at `path`; the error says why it cannot.
  static Result<std::shared_ptr<LoadedPlugin>> open(const std::filesystem::path& path);
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const PluginInfo& info() const { return info_; }
  int run(cronhost_run_t* run, const cronhost_host_api_t* host) const { return run_(run, host); }

 private:
  LoadedPlugin() = default;
  void* handle_ = nullptr;
  PluginInfo info_;
  int (*run_)(cronhost_run_t*, const cronhost_host_api_t*) = nullptr;
  void (*shutdown_)(void) = nullptr;
};

}  // namespace cronhost::plugin
