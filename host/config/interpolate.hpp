// ${env:NAME}, ${file:PATH} (secrets: never printed) and ${var:NAME} (an environment value
// that is not secret, such as a version) in job and config values, resolved at load time.
// ${env:NAME:-fallback} and ${var:NAME:-fallback} fall back when NAME is unset or empty.
// "$${" stands for a literal "${". Thread-safe (reads the environment and files only).
#pragma once
#include <filesystem>
#include <string>
#include <vector>
#include <string_view>

#include "util/status.hpp"

namespace cronhost::config {

struct Interpolated {
  std::string text;
  bool has_secret = false;  // a ${...} was replaced: the value must never be printed
  // Each value put in for ${env:} or ${file:}, so it is redacted where it shows up alone
  // (a script printing auth:sub(8) of "Bearer ${env:TOKEN}").
  std::vector<std::string> secret_parts;
  // The first ${env:}/${var:} that resolved to nothing (unset or empty, or an empty fallback);
  // empty: none. An allowlist entry built from one would allow more than meant.
  std::string empty_variable;
};

// Replaces every ${env:NAME} and ${file:PATH} (relative paths against `base_dir`; one
// trailing newline of a file is dropped). Fails naming the variable or file, never the value.
Result<Interpolated> interpolate(std::string_view text, const std::filesystem::path& base_dir);

}  // namespace cronhost::config
