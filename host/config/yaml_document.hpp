// A YAML file read into JSON (for schema validation and typed access) together with where
// each key and value was written, so every later error can name PATH:LINE:COL.
// Built once, then read-only.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/diagnostic.hpp"

namespace cronhost::config {

// Files larger than this are refused before parsing: a job file is a few hundred bytes.
constexpr size_t kMaxFileBytes = 1024 * 1024;
// Nesting deeper than this is refused (no real job file comes near it).
constexpr int kMaxDepth = 64;
// Aliases can make a small file expand enormously; more nodes or text than this are refused.
constexpr size_t kMaxNodes = 100'000;
constexpr size_t kMaxExpandedBytes = 8 * 1024 * 1024;

// Which values may use ${env:}/${file:}: those are secrets, so only where nothing prints them.
// ${var:} (not secret) may be used in any value.
using InterpolationRule = bool (*)(std::string_view pointer);
inline bool interpolate_everywhere(std::string_view) { return true; }

class YamlDocument {
 public:
  // Reads `text` (the contents of `file`), interpolating ${env:}/${file:} in string values
  // against `base_dir`. Problems are appended to `diagnostics`; returns nothing when the
  // text is not usable YAML at all.
  static std::optional<YamlDocument> parse(const std::string& file, std::string_view text,
                                           const std::filesystem::path& base_dir, Diagnostics& diagnostics,
                                           InterpolationRule may_interpolate = interpolate_everywhere);

  const nlohmann::json& root() const { return root_; }
  const std::string& file() const { return file_; }

  // Where the value at a JSON pointer ("/schedule/cron/0") starts; the nearest written
  // ancestor if that value is absent.
  Position value_position(std::string_view pointer) const;
  // Where its key was written (the value's position for array items).
  Position key_position(std::string_view pointer) const;
  // Where character `offset` of a string value was written: exact when the value is written
  // out plainly on one line; otherwise where the value starts.
  Position text_position(std::string_view pointer, size_t offset = 0) const;
  // True when the value came from ${env:} or ${file:}: it must never be printed.
  bool is_secret(std::string_view pointer) const { return secrets_.count(std::string(pointer)) > 0; }
  // Every pointer whose value came from ${env:} or ${file:}.
  const std::set<std::string, std::less<>>& secret_pointers() const { return secrets_; }
  // Every value that ${env:} and ${file:} put in, each on its own (a value may hold several).
  const std::vector<std::string>& secret_parts() const { return secret_parts_; }
  // Whether some value, once YAML decoded it ("\u0024{" included), holds "${": the document
  // then depends on more than its text (a ${file:} is read again at each load).
  bool substitutes() const { return substitutes_; }
  // The variable that resolved to nothing in this value (${var:DIR}/ with DIR empty), if any.
  std::optional<std::string> empty_variable(std::string_view pointer) const {
    auto it = empty_variables_.find(pointer);
    if (it == empty_variables_.end()) return std::nullopt;
    return it->second;
  }
  // Values already reported while reading (a refused or failed ${...}); later checks skip them.
  const std::set<std::string, std::less<>>& reported() const { return reported_; }

  // The part under `prefix` ("/job") as a document of its own whose root is `root` (that part
  // rewritten, such as a template with sample values), still naming this file's lines.
  YamlDocument part(std::string_view prefix, nlohmann::json root) const;

  Diagnostic error_at(Position position, std::string message) const {
    return {file_, position, std::move(message), Diagnostic::Severity::kError};
  }

 private:
  struct Place {
    Position key, value;
    size_t source_offset = 0;  // byte offset of the value's first character in source_
    bool quoted = false;  // written with an opening quote character
  };
  std::string file_;
  std::string source_;
  nlohmann::json root_;
  std::map<std::string, Place, std::less<>> places_;
  std::set<std::string, std::less<>> secrets_;
  std::vector<std::string> secret_parts_;
  std::map<std::string, std::string, std::less<>> empty_variables_;
  std::set<std::string, std::less<>> reported_;
  bool substitutes_ = false;

  friend class YamlConverter;
};

// "/a/b" + "c" -> "/a/b/c", escaping per RFC 6901.
std::string pointer_append(std::string_view pointer, std::string_view token);
// The same, in place.
void append_to_pointer(std::string& pointer, std::string_view token);
// "/a~1b/0" -> {"a/b", "0"}.
std::vector<std::string> split_pointer(std::string_view pointer);
// "/schedule/cron/0" -> "schedule.cron[0]", for messages.
std::string pointer_to_key(std::string_view pointer);
// The value at an RFC 6901 pointer, or null when there is none. Unlike json_pointer, it
// allocates nothing: the job reader looks up some fifty pointers per job file.
const nlohmann::json* value_at(const nlohmann::json& root, std::string_view pointer);

}  // namespace cronhost::config
