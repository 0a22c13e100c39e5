#include "config/yaml_events.hpp"

#include <yaml.h>

#include <algorithm>
#include <string>
#include <unordered_map>

namespace cronhost::config {
namespace {

using Kind = YamlEvent::Kind;

size_t utf8_width(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;  // not a lead byte: libyaml's reader refuses such text before any mark is made
}

// libyaml counts characters; a document's places are bytes, as they index its source text.
class ByteMarks {
 public:
  explicit ByteMarks(std::string_view text)
      : ascii_(std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })),
        pos_{text},
        line_start_{text} {}

  YamlMark operator()(const yaml_mark_t& mark) {
    if (ascii_) return {static_cast<int>(mark.index), static_cast<int>(mark.line), static_cast<int>(mark.column)};
    const size_t pos = pos_.byte_of(mark.index);
    const size_t line_start = line_start_.byte_of(mark.index - std::min(mark.column, mark.index));
    return {static_cast<int>(pos), static_cast<int>(mark.line), static_cast<int>(pos - line_start)};
  }

 private:
  // Walks forward as the events do, so that a whole text costs one pass.
  struct Cursor {
    std::string_view text;
    size_t chars = 0;
    size_t bytes = 0;
    size_t byte_of(size_t index) {
      if (index < chars) chars = bytes = 0;
      for (; chars < index && bytes < text.size(); ++chars) bytes += utf8_width(static_cast<unsigned char>(text[bytes]));
      return std::min(bytes, text.size());
    }
  };
  bool ascii_;
  Cursor pos_;
  Cursor line_start_;
};

Position position_of(const YamlMark& mark) { return {mark.line + 1, mark.column + 1}; }

Position position_of_byte(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  const size_t line_start = offset == 0 ? 0 : text.rfind('\n', offset - 1) + 1;  // npos + 1 is 0
  return {static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n')) + 1,
          static_cast<int>(offset - line_start) + 1};
}

struct Parser {
  yaml_parser_t parser{};
  bool ready = false;
  explicit Parser(std::string_view text) {
    ready = yaml_parser_initialize(&parser) != 0;
    if (!ready) return;
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);  // job files are UTF-8; NUL bytes were refused
  }
  ~Parser() {
    if (ready) yaml_parser_delete(&parser);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
};

struct Event {
  yaml_event_t event{};
  ~Event() { yaml_event_delete(&event); }
};

std::string text_of(const yaml_char_t* s) { return s ? reinterpret_cast<const char*>(s) : ""; }

YamlEventProblem problem_of(const yaml_parser_t& parser, std::string_view text, ByteMarks& marks) {
  const std::string problem = parser.problem ? parser.problem : "cannot parse";
  if (parser.error == YAML_MEMORY_ERROR) return {{1, 1}, "cannot read the YAML: out of memory"};
  if (parser.error == YAML_READER_ERROR)  // problem_offset counts bytes
    return {position_of_byte(text, parser.problem_offset),
            (problem.find("UTF-8") != std::string::npos ? "not UTF-8 text: " : "not a YAML text: ") + problem};
  const YamlMark at = marks(parser.problem_mark);
  const size_t pos = static_cast<size_t>(std::max(0, at.pos));
  const size_t line_start = pos - std::min(pos, static_cast<size_t>(std::max(0, at.column)));
  const bool indenting = pos < text.size() && text[pos] == '\t' &&
                         text.substr(line_start, pos - line_start).find_first_not_of(" \t") == std::string_view::npos;
  if (indenting)
    return {position_of(at), "not valid YAML: a tab where YAML expects spaces (YAML indents with spaces only)"};
  std::string message = "not valid YAML: " + problem;
  const char found = pos < text.size() ? text[pos] : '\n';
  if (!problem.starts_with("found") && found > ' ' && found < 0x7f) message += ", found '" + std::string(1, found) + "'";
  const YamlMark context_at = marks(parser.context_mark);
  if (parser.context && context_at.pos != at.pos)
    message += " (" + std::string(parser.context) + " at line " + std::to_string(context_at.line + 1) + ", column " +
               std::to_string(context_at.column + 1) + ")";
  return {position_of(at), message};
}

}  // namespace

std::variant<std::vector<YamlEvent>, YamlEventProblem> read_yaml_events(std::string_view text, int max_depth) {
  Parser parser(text);
  if (!parser.ready) return YamlEventProblem{{1, 1}, "cannot read the YAML: out of memory"};
  ByteMarks marks(text);
  std::vector<YamlEvent> events;
  events.reserve(std::min<size_t>(text.size() / 4 + 8, 4096));  // a job file has a few dozen
  // Anchors by name: a name defined again names the newer node from there on.
  std::unordered_map<std::string, size_t> anchors;
  size_t last_anchor = 0;
  const auto define = [&](const yaml_char_t* name) -> size_t {
    if (!name) return 0;
    anchors[text_of(name)] = ++last_anchor;
    return last_anchor;
  };
  // Deeper nesting is refused as it is met: libyaml's scanner looks at every open flow level
  // for each token, so 100,000 '[' took it 30 s. The root collection is level 0, as
  // YamlDocument counts them.
  int depth = -1;
  const auto too_deep = [&](const YamlMark& mark) {
    return YamlEventProblem{position_of(mark), "nesting deeper than " + std::to_string(max_depth) + " levels"};
  };
  for (int documents = 0;;) {
    Event e;
    if (!yaml_parser_parse(&parser.parser, &e.event)) return problem_of(parser.parser, text, marks);
    const YamlMark mark = marks(e.event.start_mark);
    switch (e.event.type) {
      case YAML_STREAM_END_EVENT:
        return events;
      case YAML_DOCUMENT_START_EVENT:
        if (++documents > 1) return YamlEventProblem{position_of(mark), "more than one YAML document: a job file holds one job"};
        break;
      case YAML_SCALAR_EVENT: {
        const auto& scalar = e.event.data.scalar;
        std::string tag = scalar.tag ? text_of(scalar.tag) : scalar.style == YAML_PLAIN_SCALAR_STYLE ? "?" : "!";
        events.push_back({Kind::kScalar, mark, define(scalar.anchor), std::move(tag),
                          std::string(reinterpret_cast<const char*>(scalar.value), scalar.length)});
        break;
      }
      case YAML_ALIAS_EVENT: {
        const std::string name = text_of(e.event.data.alias.anchor);
        const auto target = anchors.find(name);
        if (target == anchors.end())
          return YamlEventProblem{position_of(mark), "not valid YAML: *" + name + " names no anchor &" + name + " before it"};
        events.push_back({Kind::kAlias, mark, target->second, {}, {}});
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        if (++depth > max_depth) return too_deep(mark);
        events.push_back({Kind::kSequenceStart, mark, define(e.event.data.sequence_start.anchor), {}, {}});
        break;
      case YAML_MAPPING_START_EVENT:
        if (++depth > max_depth) return too_deep(mark);
        events.push_back({Kind::kMapStart, mark, define(e.event.data.mapping_start.anchor), {}, {}});
        break;
      case YAML_SEQUENCE_END_EVENT:
        --depth;
        events.push_back({Kind::kSequenceEnd, {}, 0, {}, {}});
        break;
      case YAML_MAPPING_END_EVENT:
        --depth;
        events.push_back({Kind::kMapEnd, {}, 0, {}, {}});
        break;
      default:  // stream start, document end
        break;
    }
  }
}

}  // namespace cronhost::config
