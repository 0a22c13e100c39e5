// A YAML text read with libyaml's event parser into a flat list of events, one pass, no
// nodes: YamlDocument builds its JSON from the list.
//
// libyaml (the C parser under PyYAML) rather than yaml-cpp: on a three-line job file
// yaml-cpp's scanner took 24-31 us, a third of the CPU of loading 100,000 job files; libyaml
// reads the same text in 4-5 us, reports every error with a place instead of looping on stray
// tokens (yaml-cpp 0.7, upstream issue #1040), and refuses text that is not UTF-8. Stateless;
// safe from any thread.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/diagnostic.hpp"

namespace cronhost::config {

// Where an event starts in the text: a byte offset, and a line and a byte column (0-based).
struct YamlMark {
  int pos = -1;
  int line = -1;
  int column = -1;
  bool is_null() const { return pos < 0; }
};

struct YamlEvent {
  enum class Kind { kScalar, kAlias, kSequenceStart, kSequenceEnd, kMapStart, kMapEnd };
  Kind kind;
  YamlMark mark;
  size_t anchor = 0;   // the node's own anchor; for kAlias, the anchor it names (0: none)
  std::string tag;     // kScalar: its explicit tag, else "?" when plain and "!" when quoted or a block
  std::string value;   // kScalar
};

struct YamlEventProblem {
  Position at;
  std::string message;
};

// The events of the one document in `text` (none for an empty text), or where and why not:
// "more than one YAML document", collections nested deeper than `max_depth`, an alias to no
// anchor, a libyaml parse error.
std::variant<std::vector<YamlEvent>, YamlEventProblem> read_yaml_events(std::string_view text, int max_depth);

}  // namespace cronhost::config
