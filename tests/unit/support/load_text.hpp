// Test helper: the diagnostics of loading one job file's text (named `file` in messages).
#pragma once
#include <string>

#include "config/job_loader.hpp"

namespace cronhost::test {

inline config::Diagnostics load_diagnostics(const std::string& file, const std::string& text) {
  config::Diagnostics diagnostics;
  config::load_job_text(file, text, "/nonexistent", config::LoadOptions{}, diagnostics);
  return diagnostics;
}

}  // namespace cronhost::test
