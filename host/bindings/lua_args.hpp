// Reading a binding's arguments with errors that name the function, the field and what was
// expected:  http.request: field 'url' must be a string (got number)
//            http.request: unknown field 'hedaers' (did you mean 'headers'?)
// Misuse raises; the world failing is the binding's to report as nil, err (see fail()).
#pragma once
#include <lua.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/call_result.hpp"
#include "run/lua_sandbox.hpp"
#include "run/run_context.hpp"
#include "util/printable.hpp"

namespace cronhost::bindings {

// Returns nil, message (redacted) to the script: the convention for expected failures.
int fail(lua_State* L, const std::string& message);
// Raises message (redacted) as a Lua error: the convention for misuse and denials.
[[noreturn]] void raise(lua_State* L, const std::string& message);

// A failed api::CallResult: the run's stop first, then raise for misuse and denials, or nil, err.
template <typename T>
int call_failed(lua_State* L, const api::CallResult<T>& result) {
  run::LuaSandbox::check_stop(L);
  if (result.fault() == api::CallFault::kMisuse) raise(L, result.message());
  return fail(L, result.message());
}

// Every binding is registered through this: a std::exception (out of memory, a JSON
// conversion) reaches the script as a Lua error instead of unwinding through Lua.
template <lua_CFunction F>
int guarded(lua_State* L) {
  try {
    return F(L);
  } catch (const std::exception& e) {
    raise(L, e.what());
  }
}

class TableArgs {
 public:
  // The table at `index`; raises when it is not a table or holds a key not in `known`.
  TableArgs(lua_State* L, int index, std::string function, std::vector<std::string> known);

  bool has(const char* key) const;
  std::optional<std::string> string(const char* key, bool required = false) const;
  std::optional<double> number(const char* key) const;
  std::optional<bool> boolean(const char* key) const;
  // A string or a list of strings (to = "a@x" or to = {"a@x", "b@x"}).
  std::vector<std::string> strings(const char* key) const;
  // A table of string keys to string values (headers).
  std::vector<std::pair<std::string, std::string>> string_map(const char* key) const;
  // Pushes the field's value (nil if absent) and returns its Lua type.
  int push(const char* key) const;
  const std::string& function() const { return function_; }
  [[noreturn]] void error(const std::string& message) const;

 private:
  [[noreturn]] void type_error(const char* key, const char* expected, int index) const;
  lua_State* L_;
  int index_;
  std::string function_;
};

}  // namespace cronhost::bindings
