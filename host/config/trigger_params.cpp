#include "config/trigger_params.hpp"

#include <cmath>
#include <set>

namespace cronhost::config {
namespace {

const std::set<std::string> kTypes = {"string", "integer", "number", "boolean", "array"};
const std::set<std::string> kItemTypes = {"string", "integer", "number", "boolean"};
const std::set<std::string> kKeys = {"type", "minimum", "maximum", "max_length", "max_items", "items", "enum"};

bool has_type(const nlohmann::json& value, const std::string& type) {
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer() || (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>());
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "array") return value.is_array();
  return false;
}

std::string number_text(double v) {
  return std::trunc(v) == v && std::fabs(v) < 1e15 ? std::to_string(static_cast<long long>(v)) : nlohmann::json(v).dump();
}

std::string a(const std::string& type) { return (type == "integer" || type == "array" ? "an " : "a ") + type; }

}  // namespace

int json_depth(const nlohmann::json& value, int limit) {
  if (!value.is_structured() || limit <= 0) return value.is_structured() ? 1 : 0;
  int deepest = 0;
  for (const auto& item : value) deepest = std::max(deepest, json_depth(item, limit - 1));
  return deepest + 1;
}

Result<TriggerParams> TriggerParams::parse(const nlohmann::json& declared) {
  TriggerParams out;
  if (declared.is_null()) return out;
  if (!declared.is_object()) return Result<TriggerParams>::error("trigger_params: expected a mapping of param names to rules");
  for (const auto& [name, spec] : declared.items()) {
    const std::string where = "trigger_params." + name;
    if (!spec.is_object())
      return Result<TriggerParams>::error(where + ": expected a rule such as {type: integer, minimum: 1}");
    for (const auto& [key, _] : spec.items())
      if (!kKeys.count(key))
        return Result<TriggerParams>::error(where + ": unknown key \"" + key +
                                            "\" (expected type, minimum, maximum, max_length, max_items, items, enum)");
    Rule rule;
    if (spec.contains("type")) {
      if (!spec["type"].is_string() || !kTypes.count(spec["type"].get<std::string>()))
        return Result<TriggerParams>::error(where + ".type: expected string, integer, number, boolean or array");
      rule.type = spec["type"];
    }
    if (spec.contains("enum")) {
      if (!spec["enum"].is_array() || spec["enum"].empty())
        return Result<TriggerParams>::error(where + ".enum: expected a list of allowed values");
      rule.values = spec["enum"];
    }
    if (rule.type.empty() && rule.values.is_null())
      return Result<TriggerParams>::error(where + ": give a type or an enum (a trigger may not set just anything)");
    for (const char* bound : {"minimum", "maximum"})
      if (spec.contains(bound)) {
        if (!spec[bound].is_number() || (rule.type != "integer" && rule.type != "number"))
          return Result<TriggerParams>::error(where + "." + bound + ": a number, for type integer or number");
        (std::string(bound) == "minimum" ? rule.minimum : rule.maximum) = spec[bound].get<double>();
      }
    for (const char* limit : {"max_length", "max_items"})
      if (spec.contains(limit)) {
        const bool fits = std::string(limit) == "max_length" ? rule.type == "string" : rule.type == "array";
        if (!spec[limit].is_number_integer() || spec[limit].get<int64_t>() < 0 || !fits)
          return Result<TriggerParams>::error(where + "." + limit + ": a count, for type " +
                                              (std::string(limit) == "max_length" ? "string" : "array"));
        (std::string(limit) == "max_length" ? rule.max_length : rule.max_items) = spec[limit].get<size_t>();
      }
    if (rule.type == "array") {
      if (!spec.contains("items") || !spec["items"].is_string() || !kItemTypes.count(spec["items"].get<std::string>()))
        return Result<TriggerParams>::error(where + ".items: the type of each item (string, integer, number or boolean)");
      rule.items = spec["items"];
    } else if (spec.contains("items")) {
      return Result<TriggerParams>::error(where + ".items: only for type array");
    }
    out.rules_.emplace(name, std::move(rule));
  }
  return out;
}

Status TriggerParams::check(const nlohmann::json& params) const {
  if (params.is_null() || (params.is_object() && params.empty())) return Status::ok();
  if (!params.is_object()) return Status::error("params: expected a JSON object");
  if (json_depth(params, kMaxTriggerParamsDepth + 1) > kMaxTriggerParamsDepth)
    return Status::error("params: nested deeper than " + std::to_string(kMaxTriggerParamsDepth) + " levels");
  for (const auto& [name, value] : params.items()) {
    const auto it = rules_.find(name);
    if (it == rules_.end()) {
      std::string allowed;
      for (const auto& [n, _] : rules_) allowed += (allowed.empty() ? "" : ", ") + n;
      return Status::error("params." + name + ": a trigger may not set this param (the job's trigger_params " +
                           (allowed.empty() ? "allows none" : "allows " + allowed) + ")");
    }
    const Rule& rule = it->second;
    const std::string where = "params." + name;
    if (!rule.values.is_null()) {
      bool listed = false;
      for (const auto& v : rule.values) listed = listed || v == value;
      if (!listed) return Status::error(where + ": expected one of " + rule.values.dump());
    }
    if (rule.type.empty()) continue;
    if (!has_type(value, rule.type)) return Status::error(where + ": expected " + a(rule.type));
    if (rule.minimum && value.get<double>() < *rule.minimum)
      return Status::error(where + ": at least " + number_text(*rule.minimum));
    if (rule.maximum && value.get<double>() > *rule.maximum)
      return Status::error(where + ": at most " + number_text(*rule.maximum));
    if (rule.max_length && value.is_string() && value.get_ref<const std::string&>().size() > *rule.max_length)
      return Status::error(where + ": at most " + std::to_string(*rule.max_length) + " bytes");
    if (rule.type == "array") {
      if (rule.max_items && value.size() > *rule.max_items)
        return Status::error(where + ": at most " + std::to_string(*rule.max_items) + " items");
      for (size_t i = 0; i < value.size(); ++i)
        if (!has_type(value[i], rule.items))
          return Status::error(where + "[" + std::to_string(i) + "]: expected " + a(rule.items));
    }
  }
  return Status::ok();
}

}  // namespace cronhost::config
