#include "config/yaml_document.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "config/interpolate.hpp"
#include "config/yaml_events.hpp"

namespace cronhost::config {

void append_to_pointer(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (char c : token) {
    if (c == '~') pointer += "~0";
    else if (c == '/') pointer += "~1";
    else pointer += c;
  }
}

std::string pointer_append(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  append_to_pointer(out, token);
  return out;
}

namespace {

// One token of a pointer with ~1 and ~0 decoded, left to right ("~01" is "~1"); false for a
// '~' followed by anything else.
bool unescape_token(std::string_view token, std::string& out) {
  out.clear();
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '~') {
      out += token[i];
      continue;
    }
    if (i + 1 == token.size() || (token[i + 1] != '0' && token[i + 1] != '1')) return false;
    out += token[++i] == '0' ? '~' : '/';
  }
  return true;
}

}  // namespace

std::vector<std::string> split_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < pointer.size()) {
    size_t next = pointer.find('/', i + 1);
    if (next == std::string_view::npos) next = pointer.size();
    const std::string_view raw = pointer.substr(i + 1, next - i - 1);
    std::string token;
    if (!unescape_token(raw, token)) token = raw;  // not a pointer we made: kept as written
    tokens.push_back(std::move(token));
    i = next;
  }
  return tokens;
}

std::string pointer_to_key(std::string_view pointer) {
  std::string out;
  for (const auto& token : split_pointer(pointer)) {
    const bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    if (index) out += "[" + token + "]";
    else out += (out.empty() ? "" : ".") + token;
  }
  return out;
}

const nlohmann::json* value_at(const nlohmann::json& root, std::string_view pointer) {
  const nlohmann::json* node = &root;
  std::string unescaped;
  while (!pointer.empty()) {
    if (pointer[0] != '/') return nullptr;
    const size_t end = std::min(pointer.find('/', 1), pointer.size());
    std::string_view token = pointer.substr(1, end - 1);
    pointer.remove_prefix(end);
    if (token.find('~') != std::string_view::npos) {
      if (!unescape_token(token, unescaped)) return nullptr;
      token = unescaped;
    }
    if (node->is_object()) {
      const auto it = node->find(token);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      // An index as RFC 6901 writes it: digits only, no leading zero.
      size_t index = 0;
      const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), index);
      if (error != std::errc() || end != token.data() + token.size() ||
          (token.size() > 1 && token[0] == '0') || index >= node->size())
        return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

namespace {

Position to_position(const YamlMark& mark) {
  if (mark.is_null()) return {1, 1};
  return {mark.line + 1, mark.column + 1};
}

// YAML 1.2 core schema for plain (unquoted) scalars.
nlohmann::json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.c_str();
  char* end = nullptr;
  const bool looks_numeric = s.find_first_not_of("+-0123456789.eE") == std::string::npos;
  if (looks_numeric && s.find_first_of("0123456789") != std::string::npos) {
    errno = 0;
    long long integer = std::strtoll(begin, &end, 10);
    if (*end == '\0' && errno == 0) return integer;
    double real = std::strtod(begin, &end);
    if (*end == '\0' && std::isfinite(real)) return real;
  }
  return s;
}

}  // namespace

// Builds the JSON and the places from the events of one document (config/yaml_events.hpp).
class YamlConverter {
 public:
  YamlConverter(YamlDocument& doc, std::string_view text, const std::vector<YamlEvent>& events,
                const std::filesystem::path& base_dir, Diagnostics& diagnostics, InterpolationRule may_interpolate)
      : doc_(doc),
        text_(text),
        events_(events),
        base_dir_(base_dir),
        diagnostics_(diagnostics),
        may_interpolate_(may_interpolate) {
    // Where each node ends, found once: skipping a node is then one step however often
    // aliases replay it (walking skipped nodes again per alias let 1 MiB run for seconds).
    node_end_.resize(events_.size());
    std::vector<size_t> open;
    for (size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].anchor && events_[i].kind != Kind::kAlias) anchored_[events_[i].anchor] = i;
      node_end_[i] = i + 1;
      if (events_[i].kind == Kind::kSequenceStart || events_[i].kind == Kind::kMapStart) {
        open.push_back(i);
      } else if (is_end(events_[i].kind) && !open.empty()) {
        node_end_[open.back()] = i + 1;
        open.pop_back();
      }
    }
    for (size_t start : open) node_end_[start] = events_.size() + 1;  // never closed: malformed
  }

  bool convert_root(nlohmann::json& out) {
    if (events_.empty()) {  // an empty text is a null document
      doc_.places_[""].value = {1, 1};
      out = nullptr;
      return true;
    }
    size_t at = 0;
    return convert(at, "", out, 0);
  }

 private:
  using Kind = YamlEvent::Kind;

  // Converts the node that starts at events_[at] and moves `at` past it. An alias converts the
  // node it names again, at this place: the limits below bound what aliases can expand to.
  bool convert(size_t& at, const std::string& pointer, nlohmann::json& out, int depth) {
    if (at >= events_.size() || is_end(events_[at].kind)) return malformed();
    if (events_[at].kind == Kind::kAlias) {
      size_t node = named(at++);
      if (events_[node].kind == Kind::kAlias) return malformed();
      return convert(node, pointer, out, depth);
    }
    const YamlEvent& event = events_[at];
    if (++nodes_ > kMaxNodes || (event.kind == Kind::kScalar && (bytes_ += event.value.size()) > kMaxExpandedBytes)) {
      diagnostics_.push_back(doc_.error_at(to_position(event.mark),
                                           "the document expands to more than " + std::to_string(kMaxNodes) +
                                               " values or " + std::to_string(kMaxExpandedBytes >> 20) +
                                               " MiB of text (aliases?)"));
      return false;
    }
    if (depth > kMaxDepth) {
      diagnostics_.push_back(
          doc_.error_at(to_position(event.mark), "nesting deeper than " + std::to_string(kMaxDepth) + " levels"));
      return false;
    }
    doc_.places_[pointer].value = to_position(event.mark);
    ++at;
    switch (event.kind) {
      case Kind::kScalar:
        return scalar(event, pointer, out);
      case Kind::kSequenceStart: {
        out = nlohmann::json::array();
        for (size_t index = 0; at < events_.size() && events_[at].kind != Kind::kSequenceEnd; ++index) {
          const std::string child = pointer_append(pointer, std::to_string(index));
          nlohmann::json value;
          if (!convert(at, child, value, depth + 1)) return false;
          doc_.places_[child].key = doc_.places_[child].value;
          out.push_back(std::move(value));
        }
        return close(at, Kind::kSequenceEnd);
      }
      case Kind::kMapStart: {
        out = nlohmann::json::object();
        while (at < events_.size() && events_[at].kind != Kind::kMapEnd) {
          const YamlEvent& key_event = events_[named(at)];
          // A plain empty, ~ or null key is null in YAML, not text.
          if (key_event.kind != Kind::kScalar || (key_event.tag == "?" && plain_scalar(key_event.value).is_null())) {
            diagnostics_.push_back(doc_.error_at(to_position(key_event.mark), "keys must be plain text"));
            if (!skip(at) || !skip(at)) return malformed();
            continue;
          }
          ++at;
          const std::string& key = key_event.value;
          const std::string child = pointer_append(pointer, key);
          if (out.contains(key)) {
            diagnostics_.push_back(doc_.error_at(
                to_position(key_event.mark),
                "duplicate key '" + key + "' (first given on line " + std::to_string(doc_.places_[child].key.line) + ")"));
            if (!skip(at)) return malformed();
            continue;
          }
          nlohmann::json value;
          if (!convert(at, child, value, depth + 1)) return false;
          doc_.places_[child].key = to_position(key_event.mark);
          out[key] = std::move(value);
        }
        return close(at, Kind::kMapEnd);
      }
      default:  // an end, or an alias: handled above
        return malformed();
    }
  }

  static bool is_end(Kind kind) { return kind == Kind::kSequenceEnd || kind == Kind::kMapEnd; }

  // Where the node at events_[at] starts: the node an alias names, else `at` itself (also for
  // an alias naming no anchor, which read_yaml_events never hands over).
  size_t named(size_t at) const {
    if (events_[at].kind != Kind::kAlias) return at;
    auto target = anchored_.find(events_[at].anchor);
    return target == anchored_.end() ? at : target->second;
  }

  // Moves `at` past the node that starts there, unread.
  bool skip(size_t& at) const {
    if (at >= events_.size() || is_end(events_[at].kind) || node_end_[at] > events_.size()) return false;
    at = node_end_[at];
    return true;
  }

  bool close(size_t& at, Kind end) {
    if (at >= events_.size() || events_[at].kind != end) return malformed();
    ++at;
    return true;
  }

  // libyaml hands over balanced events for every document it reads to its end; anything else
  // is refused rather than guessed at.
  bool malformed() {
    diagnostics_.push_back(doc_.error_at({1, 1}, "not valid YAML: the parser's events do not form a document"));
    return false;
  }

  bool scalar(const YamlEvent& event, const std::string& pointer, nlohmann::json& out) {
    if (event.value.find("${") != std::string::npos) doc_.substitutes_ = true;
    const std::string& tag = event.tag;
    const YamlMark& mark = event.mark;
    const bool quoted = tag == "!" || quote_at(mark);
    doc_.places_[pointer].quoted = quote_at(mark);
    doc_.places_[pointer].source_offset = mark.pos < 0 ? 0 : static_cast<size_t>(mark.pos) + (quote_at(mark) ? 1 : 0);
    const bool string_tag = tag.size() >= 4 && tag.compare(tag.size() - 4, 4, ":str") == 0;
    if (!quoted && !string_tag) {
      out = plain_scalar(event.value);
      if (!out.is_string()) return true;
    }
    if (!may_interpolate_(pointer)) {
      const std::string& raw = event.value;
      for (size_t at = raw.find("${"); at != std::string::npos; at = raw.find("${", at + 2)) {
        if (at > 0 && raw[at - 1] == '$') continue;  // $${ is a literal
        if (raw.compare(at + 2, 4, "var:") == 0) continue;  // not a secret: allowed anywhere
        diagnostics_.push_back(doc_.error_at(to_position(mark),
                                             "${env:...} and ${file:...} are secrets and may be used only in params and run.http.headers of job files"));
        doc_.reported_.insert(pointer);
        out = raw;
        return true;
      }
    }
    auto value = interpolate(event.value, base_dir_);
    if (!value) {
      diagnostics_.push_back(doc_.error_at(to_position(mark), value.message()));
      doc_.reported_.insert(pointer);
      out = "";
      return true;
    }
    if (value->has_secret) doc_.secrets_.insert(pointer);
    for (auto& part : value->secret_parts) doc_.secret_parts_.push_back(std::move(part));
    if (!value->empty_variable.empty()) doc_.empty_variables_[pointer] = value->empty_variable;
    // Unquoted, the resolved text is typed as YAML types a plain value (port: ${var:SMTP_PORT}
    // is a number); quoted, it stays text.
    out = !quoted && !string_tag ? plain_scalar(value->text) : nlohmann::json(value->text);
    return true;
  }

  bool quote_at(const YamlMark& mark) const {
    if (mark.is_null() || mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return false;
    const char c = text_[static_cast<size_t>(mark.pos)];
    return c == '"' || c == '\'';
  }

  YamlDocument& doc_;
  std::string_view text_;
  const std::vector<YamlEvent>& events_;
  std::unordered_map<size_t, size_t> anchored_;  // anchor -> the event of the node it names
  std::vector<size_t> node_end_;  // for each event, the index just past the node it starts
  const std::filesystem::path& base_dir_;
  Diagnostics& diagnostics_;
  InterpolationRule may_interpolate_;
  size_t nodes_ = 0;
  size_t bytes_ = 0;
};

std::optional<YamlDocument> YamlDocument::parse(const std::string& file, std::string_view text,
                                                const std::filesystem::path& base_dir, Diagnostics& diagnostics,
                                                InterpolationRule may_interpolate) {
  YamlDocument doc;
  doc.file_ = file;
  if (text.size() > kMaxFileBytes) {
    diagnostics.push_back(doc.error_at({1, 1}, "file is too large (" + std::to_string(text.size()) +
                                                   " bytes, at most " + std::to_string(kMaxFileBytes) + ")"));
    return std::nullopt;
  }
  if (text.find('\0') != std::string_view::npos) {
    diagnostics.push_back(doc.error_at({1, 1}, "not a YAML text file (it contains NUL bytes)"));
    return std::nullopt;
  }
  // A UTF-8 byte order mark is not part of the text: editors count no column for it, and
  // libyaml, told the text is UTF-8, would take it for an indented first line.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  auto events = read_yaml_events(text, kMaxDepth);
  if (auto* problem = std::get_if<YamlEventProblem>(&events)) {
    diagnostics.push_back(doc.error_at(problem->at, problem->message));
    return std::nullopt;
  }
  doc.source_ = std::string(text);
  YamlConverter converter(doc, text, std::get<std::vector<YamlEvent>>(events), base_dir, diagnostics, may_interpolate);
  if (!converter.convert_root(doc.root_)) return std::nullopt;
  return doc;
}

namespace {

std::string parent_pointer(std::string_view pointer) {
  const size_t slash = pointer.rfind('/');
  return slash == std::string_view::npos ? "" : std::string(pointer.substr(0, slash));
}

}  // namespace

Position YamlDocument::value_position(std::string_view pointer) const {
  std::string p(pointer);
  for (;;) {
    if (auto it = places_.find(p); it != places_.end()) return it->second.value;
    if (p.empty()) return {1, 1};
    p = parent_pointer(p);
  }
}

Position YamlDocument::key_position(std::string_view pointer) const {
  if (auto it = places_.find(pointer); it != places_.end()) return it->second.key;
  return value_position(pointer);
}

Position YamlDocument::text_position(std::string_view pointer, size_t offset) const {
  Position pos = value_position(pointer);
  auto it = places_.find(pointer);
  if (it == places_.end()) return pos;
  if (it->second.quoted) ++pos.column;
  // Only when the source spells the value out character for character up to `offset` (no
  // escapes, no folding) does the column of character `offset` follow from the start.
  const nlohmann::json* value = value_at(root_, pointer);
  if (offset == 0 || !value || !value->is_string()) return pos;
  const std::string& text = value->get_ref<const std::string&>();
  const size_t start = it->second.source_offset;
  if (offset <= text.size() && start + offset <= source_.size() &&
      source_.compare(start, offset, text, 0, offset) == 0 && text.find('\n') >= offset)
    pos.column += static_cast<int>(offset);
  return pos;
}

YamlDocument YamlDocument::part(std::string_view prefix, nlohmann::json root) const {
  // "/job/run/lua" -> "/run/lua"; "/job" -> ""; pointers outside the prefix are left out.
  const auto rebased = [&](const std::string& pointer) -> std::optional<std::string> {
    if (pointer.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    if (pointer.size() != prefix.size() && pointer[prefix.size()] != '/') return std::nullopt;
    return pointer.substr(prefix.size());
  };
  YamlDocument out;
  out.file_ = file_;
  out.source_ = source_;
  out.root_ = std::move(root);
  out.secret_parts_ = secret_parts_;
  for (const auto& [pointer, place] : places_)
    if (auto p = rebased(pointer)) out.places_.emplace(*p, place);
  for (const auto& set : {std::pair{&secrets_, &out.secrets_}, std::pair{&reported_, &out.reported_}})
    for (const auto& pointer : *set.first)
      if (auto p = rebased(pointer)) set.second->insert(*p);
  for (const auto& [pointer, name] : empty_variables_)
    if (auto p = rebased(pointer)) out.empty_variables_.emplace(*p, name);
  return out;
}

}  // namespace cronhost::config
