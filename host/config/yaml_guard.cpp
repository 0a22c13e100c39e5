#include "config/yaml_guard.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <sstream>

namespace cronhost::config {
namespace {

// Remembers where each document's first node is; ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    last_start = mark;
    seen_node = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override { node(mark); }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

  YAML::Mark last_start = YAML::Mark::null_mark();

 private:
  void node(const YAML::Mark& mark) {
    if (!seen_node) last_start = mark;
    seen_node = true;
  }
  bool seen_node = false;
};

Position position_of(const YAML::Mark& mark) { return {mark.line + 1, mark.column + 1}; }

}  // namespace

std::optional<YamlGuardProblem> check_yaml_text(std::string_view text) {
  std::istringstream in{std::string(text)};
  try {
    YAML::Parser parser(in);
    DocumentStarts handler;
    if (!parser.HandleNextDocument(handler)) return std::nullopt;  // empty text
    const YAML::Mark first = handler.last_start;
    if (!parser.HandleNextDocument(handler)) return std::nullopt;  // one document, read to its end
    const YAML::Mark second = handler.last_start;
    // A document that starts where the one before did consumed nothing: yaml-cpp stopped at a
    // token it cannot place, and would return that same empty document forever.
    bool stuck = second.pos == first.pos;
    if (!stuck && parser.HandleNextDocument(handler)) stuck = handler.last_start.pos == second.pos;
    if (stuck) {
      const size_t at = static_cast<size_t>(std::max(0, second.pos));
      const std::string token = at < text.size() ? std::string(1, text[at]) : "end of file";
      return YamlGuardProblem{position_of(second), "unexpected '" + token + "' (not valid YAML here)"};
    }
    return YamlGuardProblem{position_of(second), "more than one YAML document: a job file holds one job"};
  } catch (const YAML::Exception& e) {
    return YamlGuardProblem{position_of(e.mark), "not valid YAML: " + e.msg};
  }
}

}  // namespace cronhost::config
