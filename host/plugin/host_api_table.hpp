// The host vtable (cronhost_host_api_t) a plugin's run() receives. Each C function turns its
// arguments into a Call for the run's PluginRun and the Reply back into C values, so the
// host process (inline runs) and the runner process (isolated runs) present exactly the
// same ABI and differ only in how a Call is served.
// A PluginRun belongs to the thread running the plugin.
#pragma once
#include <cstdint>
#include <string>

#include "cronhost/plugin.h"
#include "plugin/call.hpp"

namespace cronhost::plugin {

class PluginRun {
 public:
  virtual ~PluginRun() = default;

  // Serves one call: the host's answer, or why not.
  virtual Reply call(Call call) = 0;
  // Milliseconds to the run's deadline; 0 or less once past it.
  virtual int64_t time_left_ms() const = 0;
  virtual bool stop_requested() const { return time_left_ms() <= 0; }

  // What the plugin gave set_error: the message its run fails with.
  const std::string& error() const { return error_; }
  void set_error(std::string text) { error_ = std::move(text); }
  // Why the last call failed, for last_error(); kept until the next call.
  const std::string& last_error() const { return last_error_; }
  void set_last_error(std::string text) { last_error_ = std::move(text); }

  cronhost_run_t* handle() { return reinterpret_cast<cronhost_run_t*>(this); }
  static PluginRun& from(cronhost_run_t* run) { return *reinterpret_cast<PluginRun*>(run); }

 private:
  std::string error_;
  std::string last_error_;
};

// The table, the same for every run; static storage.
const cronhost_host_api_t& host_api_table();

}  // namespace cronhost::plugin
