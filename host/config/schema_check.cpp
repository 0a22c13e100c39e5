#include "config/schema_check.hpp"

#include <algorithm>
#include <map>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "config/schemas.hpp"
#include "util/did_you_mean.hpp"

namespace cronhost::config {

struct SchemaCheck::Compiled {
  valijson::Schema schema;
};

SchemaCheck::SchemaCheck(std::string_view schema_text, std::string subject)
    : schema_(nlohmann::json::parse(schema_text)), subject_(std::move(subject)), compiled_(std::make_unique<Compiled>()) {
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter adapter(schema_);
  parser.populateSchema(adapter, compiled_->schema);
}

SchemaCheck::~SchemaCheck() = default;

const SchemaCheck& SchemaCheck::job() {
  static const SchemaCheck check(job_schema_text(), "job");
  return check;
}

const SchemaCheck& SchemaCheck::host_config() {
  static const SchemaCheck check(config_schema_text(), "host config");
  return check;
}

namespace {

// valijson's context ("<root>", "[schedule]", "[0]") as a JSON pointer.
std::string context_to_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const auto& part : context)
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']')
      pointer = pointer_append(pointer, part.substr(1, part.size() - 2));
  return pointer;
}

// Errors that only say "a child failed"; the child's own error says what is wrong.
bool is_wrapper(const std::string& description) {
  return description.rfind("Failed to validate against schema associated with property name", 0) == 0 ||
         description.rfind("Failed to validate item #", 0) == 0 ||
         description.rfind("Failed to validate against additional properties schema", 0) == 0 ||
         description.rfind("Object contains a property that could not be validated", 0) == 0;
}

std::string type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: return "a mapping";
    case nlohmann::json::value_t::array: return "a list";
    case nlohmann::json::value_t::string: return "text";
    case nlohmann::json::value_t::boolean: return "true/false";
    case nlohmann::json::value_t::null: return "nothing";
    default: return "a number";
  }
}

std::string shown_value(const YamlDocument& doc, std::string_view pointer, const nlohmann::json& v) {
  if (doc.is_secret(pointer)) return "***";
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return "\"" + s + "\"";
  }
  if (v.is_object() || v.is_array() || v.is_null()) return type_name(v);
  return v.dump();
}

std::string expected_phrase(const nlohmann::json* sub) {
  if (!sub) return "something else";
  if (auto it = sub->find("x-expected"); it != sub->end()) return it->get<std::string>();
  if (auto it = sub->find("enum"); it != sub->end()) {
    std::string out = "one of ";
    for (size_t i = 0; i < it->size(); ++i)
      out += (i == 0 ? "" : i + 1 == it->size() ? " or " : ", ") + (*it)[i].get<std::string>();
    return out;
  }
  if (auto it = sub->find("type"); it != sub->end() && it->is_string()) {
    const std::string t = it->get<std::string>();
    if (t == "object") return "a mapping";
    if (t == "array") return "a list";
    if (t == "string") return "text";
    if (t == "boolean") return "true or false";
    if (t == "integer") return "a whole number";
    if (t == "number") return "a number";
  }
  return "something else";
}

std::vector<std::string> property_names(const nlohmann::json* sub) {
  std::vector<std::string> names;
  if (!sub) return names;
  if (auto it = sub->find("properties"); it != sub->end())
    for (const auto& [name, _] : it->items()) names.push_back(name);
  return names;
}

// For "oneOf: [{required: [a]}, {required: [b]}]": the keys a, b.
std::vector<std::string> one_of_keys(const nlohmann::json* sub) {
  std::vector<std::string> keys;
  if (!sub || !sub->contains("oneOf")) return keys;
  for (const auto& alt : (*sub)["oneOf"])
    if (alt.contains("required") && alt["required"].size() == 1) keys.push_back(alt["required"][0].get<std::string>());
  return keys;
}

std::string join(const std::vector<std::string>& items, const std::string& last) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "" : i + 1 == items.size() ? last : ", ") + items[i];
  return out;
}

}  // namespace

const nlohmann::json* SchemaCheck::subschema_at(std::string_view pointer) const {
  const auto resolve = [&](const nlohmann::json* node) {
    for (int guard = 0; node && node->is_object() && node->contains("$ref") && guard < 16; ++guard) {
      const std::string ref = (*node)["$ref"].get<std::string>();
      if (ref.rfind("#/", 0) != 0) return static_cast<const nlohmann::json*>(nullptr);
      node = &schema_.at(nlohmann::json::json_pointer(ref.substr(1)));
    }
    return node;
  };
  const nlohmann::json* node = resolve(&schema_);
  for (const auto& token : split_pointer(pointer)) {
    if (!node || !node->is_object()) return nullptr;
    if (auto props = node->find("properties"); props != node->end() && props->contains(token)) node = &(*props)[token];
    else if (auto items = node->find("items"); items != node->end() && items->is_object()) node = &*items;
    else if (auto extra = node->find("additionalProperties"); extra != node->end() && extra->is_object())
      node = &*extra;
    else return nullptr;
    node = resolve(node);
  }
  return node;
}

// valijson matches "pattern" with std::regex, which recurses per character and overflows the
// stack on long input (a 50,000-character duration). Patterns here describe short values, so
// longer strings are reported directly and left out of the regex check.
constexpr size_t kMaxPatternInput = 256;

void SchemaCheck::find_long_patterned(const nlohmann::json& value, std::string& pointer,
                                      std::vector<std::string>& found) const {
  const size_t here = pointer.size();
  if (value.is_string()) {
    const nlohmann::json* sub = value.get_ref<const std::string&>().size() > kMaxPatternInput ? subschema_at(pointer) : nullptr;
    if (sub && sub->contains("pattern")) found.push_back(pointer);
  } else if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      append_to_pointer(pointer, key);
      find_long_patterned(child, pointer, found);
      pointer.resize(here);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      append_to_pointer(pointer, std::to_string(i));
      find_long_patterned(value[i], pointer, found);
      pointer.resize(here);
    }
  }
}

std::set<std::string> SchemaCheck::check(const YamlDocument& doc, Diagnostics& out) const {
  std::vector<std::string> too_long;
  std::string walked;
  find_long_patterned(doc.root(), walked, too_long);
  nlohmann::json shortened;
  if (!too_long.empty()) {
    shortened = doc.root();
    for (const auto& pointer : too_long) shortened[nlohmann::json::json_pointer(pointer)] = "";
  }
  // One validator per thread, kept: it caches each "pattern" as a compiled std::regex, and a
  // new one per document compiled them again for every job (a tenth of building a job from a
  // table source's row, bench/table_source_bench.py). The cache is all it keeps between calls.
  thread_local valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(too_long.empty() ? doc.root() : shortened);
  // A document that passes is checked once without collecting findings: collecting them, the
  // validator writes out an error for every oneOf alternative a valid file does not take
  // (schedule: four, run: two), each a message and a copied context. Only a failing document
  // (one with an over-long string fails already) is checked for its findings.
  if (too_long.empty() && validator.validate(compiled_->schema, target, nullptr))
    return {doc.reported().begin(), doc.reported().end()};
  validator.validate(compiled_->schema, target, &results);

  // The validator may report several findings per value; keep them grouped by value.
  std::map<std::string, std::vector<std::string>> by_pointer;
  for (const auto& error : results) {
    const std::string pointer = context_to_pointer(error.context);
    if (error.description.rfind("Object contains a property that could not be validated", 0) == 0)
      by_pointer[pointer];  // the unknown keys are found below, by name
    if (!is_wrapper(error.description)) by_pointer[pointer].push_back(error.description);
  }

  std::set<std::string> failed(doc.reported().begin(), doc.reported().end());
  const size_t first_new = out.size();
  for (const auto& pointer : too_long) {
    const size_t length = doc.root().at(nlohmann::json::json_pointer(pointer)).get_ref<const std::string&>().size();
    out.push_back(doc.error_at(doc.value_position(pointer), pointer_to_key(pointer) + ": expected " +
                                                                expected_phrase(subschema_at(pointer)) + ", got " +
                                                                std::to_string(length) + " characters"));
    failed.insert(pointer);
    by_pointer.erase(pointer);
  }
  for (const auto& [pointer, descriptions] : by_pointer) {
    if (doc.reported().count(pointer)) continue;  // already has its error
    const nlohmann::json* sub = subschema_at(pointer);
    const nlohmann::json& value = pointer.empty() ? doc.root() : doc.root().at(nlohmann::json::json_pointer(pointer));
    const std::string key = pointer.empty() ? subject_ : pointer_to_key(pointer);
    const auto has = [&](std::string_view prefix) {
      for (const auto& d : descriptions)
        if (d.rfind(prefix, 0) == 0) return true;
      return false;
    };

    // Unknown keys: each at its own key, with a suggestion from the schema's key names.
    if (value.is_object() && sub && sub->value("additionalProperties", true) == false) {
      const std::vector<std::string> known = property_names(sub);
      for (const auto& [name, _] : value.items()) {
        if (std::find(known.begin(), known.end(), name) != known.end()) continue;
        const std::string child = pointer_append(pointer, name);
        out.push_back(doc.error_at(doc.key_position(child), "unknown key '" + name + "' in " + key +
                                                                did_you_mean_suffix(name, known) +
                                                                (did_you_mean(name, known).empty()
                                                                     ? " (expected one of " + join(known, " or ") + ")"
                                                                     : "")));
        failed.insert(child);
      }
    }
    if (descriptions.empty()) continue;
    // A missing key says nothing against the keys that are there; other findings do.
    bool only_absent_keys = true;
    for (const auto& d : descriptions)
      if (d.rfind("Missing required property", 0) != 0 && d.find("child schema") == std::string::npos)
        only_absent_keys = false;
    if (!only_absent_keys) failed.insert(pointer);

    std::string message;
    if (has("Value type not permitted")) {
      message = key + ": expected " + expected_phrase(sub) + ", got " + type_name(value);
    } else if (has("Failed to validate against exactly one child schema") ||
               has("Failed to validate against any child schemas allowed by oneOf")) {
      const std::vector<std::string> keys = one_of_keys(sub);
      std::vector<std::string> present;
      for (const auto& k : keys)
        if (value.is_object() && value.contains(k)) present.push_back(k);
      if (present.empty()) message = key + ": needs one of " + join(keys, " or ");
      else message = key + ": give only one of " + join(present, " and ");
    } else if (has("Missing required property")) {
      std::vector<std::string> missing;
      for (const auto& d : descriptions)
        if (d.rfind("Missing required property '", 0) == 0)
          missing.push_back(d.substr(27, d.rfind('\'') - 27));
      message = key + ": missing required key" + (missing.size() > 1 ? "s " : " ") + join(missing, " and ");
    } else if (has("Failed to match against any enum values") && value.is_string() && sub && sub->contains("enum")) {
      std::vector<std::string> options;
      for (const auto& option : (*sub)["enum"]) options.push_back(option.get<std::string>());
      message = key + ": expected " + expected_phrase(sub) + ", got " + shown_value(doc, pointer, value) +
                did_you_mean_suffix(value.get<std::string>(), options);
    } else {
      message = key + ": expected " + expected_phrase(sub) + ", got " + shown_value(doc, pointer, value);
    }
    out.push_back(doc.error_at(doc.value_position(pointer), message));
  }
  std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first_new), out.end(), [](const auto& a, const auto& b) {
    return std::pair(a.position.line, a.position.column) < std::pair(b.position.line, b.position.column);
  });
  return failed;
}

}  // namespace cronhost::config
