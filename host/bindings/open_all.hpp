// Installs every host API module into a run's sandbox: the index of what scripts can call.
#pragma once
#include <lua.hpp>

namespace cronhost::bindings {

// Each open_* installs one global module table (or function) into L.
void open_job(lua_State* L);    // job, sleep, require
void open_log(lua_State* L);    // log.debug/info/warn/error, print
void open_json(lua_State* L);   // json.encode/decode, json.null
void open_state(lua_State* L);  // state.get/put/delete

void open_all(lua_State* L);

}  // namespace cronhost::bindings
