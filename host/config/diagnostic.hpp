// A problem found in a file, printed compiler-style: "PATH:LINE:COL: error: MESSAGE".
#pragma once
#include <string>
#include <vector>

namespace cronhost::config {

struct Position {
  int line = 1;    // 1-based
  int column = 1;  // 1-based
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  std::string file;
  Position position;
  std::string message;
  Severity severity = Severity::kError;

  std::string format() const {
    return file + ":" + std::to_string(position.line) + ":" + std::to_string(position.column) + ": " +
           (severity == Severity::kError ? "error: " : "warning: ") + message;
  }
  bool is_error() const { return severity == Severity::kError; }
};

using Diagnostics = std::vector<Diagnostic>;

inline size_t error_count(const Diagnostics& diagnostics) {
  size_t n = 0;
  for (const auto& d : diagnostics) n += d.is_error();
  return n;
}

inline bool has_errors(const Diagnostics& diagnostics) { return error_count(diagnostics) > 0; }

}  // namespace cronhost::config
