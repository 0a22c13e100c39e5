// Reading a host call's JSON arguments with the messages the Lua API gives for the same
// mistakes, so a plugin and a script read alike:
//   http.request: field 'url' must be a string (got number)
//   http.request: unknown field 'hedaers' (did you mean 'headers'?)
// JSON types are named as Lua's (an object or array is a "table"); a null field is absent.
// Misuse throws ArgumentError, which only HostCalls catches (it never leaves host/plugin/).
// Plain values; thread-compatible.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cronhost::plugin {

struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses `text` as JSON; "" is nothing. Throws "<what> is not JSON: ...".
std::optional<nlohmann::json> parse_json_arg(std::string_view text, const std::string& what);

class JsonArgs {
 public:
  // `text` must be a JSON object ("" reads as {}); `what` names it in parse errors
  // ("files: the arguments"). With `known` given, other fields are refused.
  JsonArgs(std::string_view text, const std::string& what, std::string function, std::vector<std::string> known = {});

  bool has(const char* key) const;
  std::optional<std::string> string(const char* key, bool required = false) const;
  std::optional<double> number(const char* key) const;
  std::optional<int64_t> integer(const char* key) const;
  std::optional<bool> boolean(const char* key) const;
  // A string or a list of strings (to = "a@x" or to = ["a@x", "b@x"]).
  std::vector<std::string> strings(const char* key) const;
  // An object of names to strings or numbers (headers).
  std::vector<std::pair<std::string, std::string>> string_map(const char* key) const;
  // The field's value, if given (not null).
  const nlohmann::json* get(const char* key) const;
  const nlohmann::json& all() const { return value_; }
  const std::string& function() const { return function_; }
  [[noreturn]] void error(const std::string& message) const;

 private:
  [[noreturn]] void type_error(const char* key, const char* expected, const nlohmann::json& got) const;
  nlohmann::json value_;
  std::string function_;
};

// Lua's name for a JSON value's type.
const char* lua_type_name(const nlohmann::json& value);

}  // namespace cronhost::plugin
