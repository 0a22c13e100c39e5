// A first pass over a YAML text with yaml-cpp's event parser, before anything builds nodes:
// counts the documents and stops where yaml-cpp would loop. yaml-cpp 0.7's LoadAll never ends
// on a stray top-level token such as "," (upstream issue #1040): each call of
// HandleNextDocument yields an empty document without consuming it, and LoadAll allocates one
// more node per call until memory runs out. Stateless; safe from any thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "config/diagnostic.hpp"

namespace cronhost::config {

struct YamlGuardProblem {
  Position at;
  std::string message;
};

// Nothing when `text` holds at most one document that yaml-cpp reads to its end; else where
// and why not ("more than one YAML document", "unexpected ','", a yaml-cpp parse error).
std::optional<YamlGuardProblem> check_yaml_text(std::string_view text);

}  // namespace cronhost::config
