// Validates a YamlDocument against one of the JSON Schemas in schemas/ and turns the
// validator's findings into operator-facing errors at PATH:LINE:COL. Subschemas may carry
// "x-expected" (a phrase such as "a duration such as 30s") used in the messages.
// A SchemaCheck is immutable after construction and safe to share between threads.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/diagnostic.hpp"
#include "config/yaml_document.hpp"

namespace cronhost::config {

class SchemaCheck {
 public:
  // `schema_text` must be valid JSON Schema (draft 7); it is compiled in, so a bad one is a bug.
  // `subject` names the root in messages ("job", "host config").
  SchemaCheck(std::string_view schema_text, std::string subject);
  ~SchemaCheck();

  // The compiled-in schemas.
  static const SchemaCheck& job();
  static const SchemaCheck& host_config();

  // Appends one diagnostic per problem; returns the JSON pointers of the values that failed,
  // so later checks can leave them alone (one message per mistake).
  std::set<std::string> check(const YamlDocument& doc, Diagnostics& out) const;

  // The subschema describing the value at `pointer` (after $ref), or null.
  const nlohmann::json* subschema_at(std::string_view pointer) const;

 private:
  // `pointer` is where `value` is; it grows and shrinks back as the walk goes down and up.
  void find_long_patterned(const nlohmann::json& value, std::string& pointer, std::vector<std::string>& found) const;
  struct Compiled;
  nlohmann::json schema_;
  std::string subject_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace cronhost::config
