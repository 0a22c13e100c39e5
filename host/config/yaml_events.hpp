// A YAML text read with yaml-cpp's event parser into a flat list of events, one pass, no
// nodes: YamlDocument builds its JSON from the list. yaml-cpp's own YAML::Load parses the same
// text again and builds a node graph first; with the pass that counts documents that was ~40%
// of the CPU spent loading 100,000 job files.
//
// The pass also counts the documents and stops where yaml-cpp would loop. yaml-cpp 0.7's
// LoadAll never ends on a stray top-level token such as "," (upstream issue #1040): each call
// of HandleNextDocument yields an empty document without consuming it. Stateless; safe from any
// thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/mark.h>

#include "config/diagnostic.hpp"

namespace cronhost::config {

struct YamlEvent {
  enum class Kind { kNull, kScalar, kAlias, kSequenceStart, kSequenceEnd, kMapStart, kMapEnd };
  Kind kind;
  YAML::Mark mark;
  YAML::anchor_t anchor = 0;  // the node's own anchor; for kAlias, the anchor it names (0: none)
  std::string tag;            // kScalar
  std::string value;          // kScalar
};

struct YamlEventProblem {
  Position at;
  std::string message;
};

// The events of the one document in `text` (none for an empty text), or where and why not:
// "more than one YAML document", "unexpected ','", a yaml-cpp parse error.
std::variant<std::vector<YamlEvent>, YamlEventProblem> read_yaml_events(std::string_view text);

}  // namespace cronhost::config
