// Lua values <-> JSON, shared by json.encode/decode, state, http, job.params and run results.
#pragma once
#include <lua.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cronhost::bindings {

// Nesting deeper than this is refused in both directions (and catches cycles).
constexpr int kMaxJsonDepth = 100;

// Pushes `value`; JSON null becomes json.null so arrays keep their positions.
void push_json(lua_State* L, const nlohmann::json& value);
// Decodes JSON text straight into Lua values and pushes the result: every allocation is the
// run's (under its memory cap), none a JSON tree's. False, with `error` and nothing pushed,
// for text that is not JSON or nests deeper than kMaxJsonDepth; raises on a memory error.
bool push_decoded_json(lua_State* L, std::string_view text, std::string& error);
// Pushes `value` as read-only tables (writes raise "attempt to modify read-only table").
void push_readonly_json(lua_State* L, const nlohmann::json& value);
// Converts the value at `index`. A table with keys 1..n is an array, one with string keys an
// object, an empty table an empty object. Fails (returns false, sets `error`) for functions,
// userdata, mixed or non-string keys, NaN and too-deep nesting.
bool to_json(lua_State* L, int index, nlohmann::json& out, std::string& error);

}  // namespace cronhost::bindings
