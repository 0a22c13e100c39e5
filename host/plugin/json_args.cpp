#include "plugin/json_args.hpp"

#include <algorithm>
#include <cmath>

#include "util/did_you_mean.hpp"

namespace cronhost::plugin {

const char* lua_type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "nil";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "number";
    default: return "table";
  }
}

std::optional<nlohmann::json> parse_json_arg(std::string_view text, const std::string& what) {
  if (text.empty()) return std::nullopt;
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(what + " is not JSON: " + e.what());
  }
}

JsonArgs::JsonArgs(std::string_view text, const std::string& what, std::string function, std::vector<std::string> known)
    : function_(std::move(function)) {
  auto parsed = parse_json_arg(text, what);
  value_ = parsed ? std::move(*parsed) : nlohmann::json::object();
  if (!value_.is_object()) throw ArgumentError(what + " must be a JSON object");
  if (known.empty()) return;
  for (const auto& [key, unused] : value_.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      error("unknown field '" + key + "'" + did_you_mean_suffix(key, known));
}

void JsonArgs::error(const std::string& message) const { throw ArgumentError(function_ + ": " + message); }

void JsonArgs::type_error(const char* key, const char* expected, const nlohmann::json& got) const {
  error(std::string("field '") + key + "' must be " + expected + " (got " + lua_type_name(got) + ")");
}

const nlohmann::json* JsonArgs::get(const char* key) const {
  const auto it = value_.find(key);
  return it == value_.end() || it->is_null() ? nullptr : &*it;
}

bool JsonArgs::has(const char* key) const { return get(key) != nullptr; }

std::optional<std::string> JsonArgs::string(const char* key, bool required) const {
  const nlohmann::json* value = get(key);
  if (!value) {
    if (required) error(std::string("field '") + key + "' is required");
    return std::nullopt;
  }
  if (!value->is_string()) type_error(key, "a string", *value);
  return value->get<std::string>();
}

std::optional<double> JsonArgs::number(const char* key) const {
  const nlohmann::json* value = get(key);
  if (!value) return std::nullopt;
  if (!value->is_number()) type_error(key, "a number", *value);
  return value->get<double>();
}

std::optional<int64_t> JsonArgs::integer(const char* key) const {
  const nlohmann::json* value = get(key);
  if (!value) return std::nullopt;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    const double d = value->get<double>();
    if (std::floor(d) == d && std::abs(d) < 9.2e18) return static_cast<int64_t>(d);
  }
  type_error(key, "an integer", *value);
}

std::optional<bool> JsonArgs::boolean(const char* key) const {
  const nlohmann::json* value = get(key);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) type_error(key, "true or false", *value);
  return value->get<bool>();
}

std::vector<std::string> JsonArgs::strings(const char* key) const {
  std::vector<std::string> out;
  const nlohmann::json* value = get(key);
  if (!value) return out;
  if (value->is_string()) {
    out.push_back(value->get<std::string>());
  } else if (value->is_array()) {
    for (const auto& item : *value) {
      if (!item.is_string()) type_error(key, "a string or a list of strings", item);
      out.push_back(item.get<std::string>());
    }
  } else {
    type_error(key, "a string or a list of strings", *value);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> JsonArgs::string_map(const char* key) const {
  std::vector<std::pair<std::string, std::string>> out;
  const nlohmann::json* value = get(key);
  if (!value) return out;
  if (!value->is_object()) type_error(key, "a table of names to strings", *value);
  for (const auto& [name, item] : value->items()) {
    if (item.is_string()) out.emplace_back(name, item.get<std::string>());
    else if (item.is_number()) out.emplace_back(name, item.dump());
    else type_error(key, "a table of names to strings", item);
  }
  return out;
}

}  // namespace cronhost::plugin
