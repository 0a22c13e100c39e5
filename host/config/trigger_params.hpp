// Which of a job's params a manual trigger (API, `cronhost trigger`, the dashboard) may
// override, and what each value must be. Declared in the job file:
//
//   trigger_params:
//     keep_days: {type: integer, minimum: 1, maximum: 90}
//     label: {type: string, max_length: 64}
//     mode: {enum: [full, incremental]}
//     recipients: {type: array, items: string, max_items: 5}
//
// A job without it accepts no params from a trigger: a token holder must not be able to send
// the nightly backup to their own address. Immutable after load; safe to share.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "util/status.hpp"

namespace cronhost::config {

// Trigger params nested deeper than this are refused before anything else looks at them.
constexpr int kMaxTriggerParamsDepth = 16;

class TriggerParams {
 public:
  struct Rule {
    std::string type;  // string, integer, number, boolean, array; empty: any of enum's values
    std::optional<double> minimum, maximum;
    std::optional<size_t> max_length, max_items;
    std::string items;           // for arrays: the type of each item (string, integer, number, boolean)
    nlohmann::json values;       // enum: the allowed values (null: any)
  };

  // From the job file's `trigger_params` mapping; the error names the param and the key.
  static Result<TriggerParams> parse(const nlohmann::json& declared);

  // Checks a trigger's params: every key declared, every value as declared. The error names
  // the param and what was expected.
  Status check(const nlohmann::json& params) const;
  bool empty() const { return rules_.empty(); }
  const std::map<std::string, Rule>& rules() const { return rules_; }

 private:
  std::map<std::string, Rule> rules_;
};

// The nesting depth of a JSON value (a scalar is 0).
int json_depth(const nlohmann::json& value, int limit);

}  // namespace cronhost::config
