// A reply of JSON text. Text that is not UTF-8 cannot be JSON: that is EINVAL with
// json.encode's message, as a Lua script meets it. Pure; thread-safe.
#pragma once
#include <nlohmann/json.hpp>

#include "plugin/call.hpp"

namespace cronhost::plugin {

inline Reply json_reply(const nlohmann::json& value) {
  try {
    return Reply::ok(value.dump());
  } catch (const nlohmann::json::type_error&) {
    return Reply::error(CRONHOST_EINVAL, "a string is not valid UTF-8 (JSON text must be; encode binary data first)");
  }
}

}  // namespace cronhost::plugin
