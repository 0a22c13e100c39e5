#include "config/yaml_events.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>

namespace cronhost::config {
namespace {

using Kind = YamlEvent::Kind;

// Remembers where each document's first node is; records the events when given a list.
class DocumentReader final : public YAML::EventHandler {
 public:
  explicit DocumentReader(std::vector<YamlEvent>* events) : events_(events) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    last_start = mark;
    seen_node_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(Kind::kNull, mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(Kind::kAlias, mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (YamlEvent* event = add(Kind::kScalar, mark, anchor)) {
      event->tag = tag;
      event->value = value;
    }
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    add(Kind::kSequenceStart, mark, anchor);
  }
  void OnSequenceEnd() override { add(Kind::kSequenceEnd, YAML::Mark::null_mark(), 0, false); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    add(Kind::kMapStart, mark, anchor);
  }
  void OnMapEnd() override { add(Kind::kMapEnd, YAML::Mark::null_mark(), 0, false); }

  YAML::Mark last_start = YAML::Mark::null_mark();

 private:
  YamlEvent* add(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor, bool starts_node = true) {
    if (starts_node && !seen_node_) last_start = mark;
    seen_node_ = seen_node_ || starts_node;
    if (!events_) return nullptr;
    events_->push_back(YamlEvent{kind, mark, anchor, {}, {}});
    return &events_->back();
  }

  std::vector<YamlEvent>* events_;
  bool seen_node_ = false;
};

Position position_of(const YAML::Mark& mark) { return {mark.line + 1, mark.column + 1}; }

}  // namespace

std::variant<std::vector<YamlEvent>, YamlEventProblem> read_yaml_events(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<YamlEvent> events;
  events.reserve(std::min<size_t>(text.size() / 4 + 8, 4096));  // a job file has a few dozen
  try {
    YAML::Parser parser(in);
    DocumentReader first(&events);
    if (!parser.HandleNextDocument(first)) return events;  // empty text
    DocumentReader next(nullptr);
    next.last_start = first.last_start;
    if (!parser.HandleNextDocument(next)) return events;  // one document, read to its end
    const YAML::Mark second = next.last_start;
    // A document that starts where the one before did consumed nothing: yaml-cpp stopped at a
    // token it cannot place, and would return that same empty document forever.
    bool stuck = second.pos == first.last_start.pos;
    if (!stuck && parser.HandleNextDocument(next)) stuck = next.last_start.pos == second.pos;
    if (stuck) {
      const size_t at = static_cast<size_t>(std::max(0, second.pos));
      const std::string token = at < text.size() ? std::string(1, text[at]) : "end of file";
      return YamlEventProblem{position_of(second), "unexpected '" + token + "' (not valid YAML here)"};
    }
    return YamlEventProblem{position_of(second), "more than one YAML document: a job file holds one job"};
  } catch (const YAML::Exception& e) {
    return YamlEventProblem{position_of(e.mark), "not valid YAML: " + e.msg};
  }
}

}  // namespace cronhost::config
