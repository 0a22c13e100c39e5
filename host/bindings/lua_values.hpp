// Lua values <-> JSON, shared by json.encode/decode, state, job.params and run results.
#pragma once
#include <lua.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace cronhost::bindings {

// Nesting deeper than this is refused in both directions (and catches cycles).
constexpr int kMaxJsonDepth = 100;

// Pushes `value`; JSON null becomes json.null so arrays keep their positions.
void push_json(lua_State* L, const nlohmann::json& value);
// Pushes `value` as read-only tables (writes raise "attempt to modify read-only table").
void push_readonly_json(lua_State* L, const nlohmann::json& value);
// Converts the value at `index`. A table with keys 1..n is an array, one with string keys an
// object, an empty table an empty object. Fails (returns false, sets `error`) for functions,
// userdata, mixed or non-string keys, NaN and too-deep nesting.
bool to_json(lua_State* L, int index, nlohmann::json& out, std::string& error);

}  // namespace cronhost::bindings
