// What a run does to the world, and what must never be shown of it.
//
// In a live run every effect is performed. In a dry run reads are performed and effects
// (writes, sends, deletes, approvals) are captured here instead, for `cronhost dry-run` to
// print; offline, network reads are refused too. Not thread-safe: one per run.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cronhost::api {

enum class EffectMode { kLive, kDryRun, kOffline };

struct Effect {
  std::string kind;     // "http", "mail", "db", "files", "approvals", "state"
  std::string summary;  // one readable line, secrets already redacted
  nlohmann::json detail = nlohmann::json::object();
};

// Replaces every known secret value by "***". Secrets shorter than 4 characters are not
// replaced: they would mangle ordinary text and hide little.
class Redactor {
 public:
  // The secret, and the forms it takes when a script or the host escapes it: inside JSON
  // text (json.encode, plugin params) and Lua's %q.
  void add(std::string secret) {
    if (secret.size() < 4) return;
    for (auto form : {json_escaped(secret), lua_quoted(secret)})
      if (form != secret && std::find(secrets_.begin(), secrets_.end(), form) == secrets_.end())
        secrets_.push_back(std::move(form));
    if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end()) secrets_.push_back(std::move(secret));
  }
  std::string apply(std::string_view text) const {
    std::string out(text);
    for (const auto& secret : secrets_)
      for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3))
        out.replace(at, secret.size(), "***");
    return out;
  }
  bool empty() const { return secrets_.empty(); }
  // Where to cut a stream's text at or before its end so that no secret is split, either
  // across the cut or with its start before the cut and its end still to come.
  size_t safe_cut(std::string_view text) const {
    size_t cut = text.size();
    for (const auto& secret : secrets_) cut = std::min(cut, text.size() - std::min(text.size(), secret.size() - 1));
    for (bool moved = true; moved;) {
      moved = false;
      for (const auto& secret : secrets_)
        for (size_t at = text.find(secret); at != std::string_view::npos && at < cut; at = text.find(secret, at + 1))
          if (at + secret.size() > cut) {
            cut = at + secret.size();
            moved = true;
          }
    }
    return cut;
  }
  // A JSON value as text with every string (and key) redacted before escaping, so a secret
  // with quotes or backslashes is found too, and the text stays valid JSON.
  std::string apply_json(nlohmann::json value) const {
    if (!secrets_.empty()) redact_strings(value);
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  void redact_strings(nlohmann::json& value) const {
    if (value.is_string()) {
      value = apply(value.get_ref<const std::string&>());
    } else if (value.is_array()) {
      for (auto& item : value) redact_strings(item);
    } else if (value.is_object()) {
      nlohmann::json copy = nlohmann::json::object();
      for (auto& [key, item] : value.items()) {
        redact_strings(item);
        copy[apply(key)] = std::move(item);
      }
      value = std::move(copy);
    }
  }

  static std::string json_escaped(const std::string& text) {
    const std::string quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return quoted.substr(1, quoted.size() - 2);
  }
  // As string.format("%q") writes it (lstrlib.c addquoted), without the quotes.
  static std::string lua_quoted(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (c == '"' || c == '\\' || c == '\n') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == 0 || std::iscntrl(c)) {
        const bool digit_follows = i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]));
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, digit_follows ? "\\%03d" : "\\%d", c);
        out += buffer;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out;
  }

  std::vector<std::string> secrets_;
};

class EffectLog {
 public:
  explicit EffectLog(EffectMode mode = EffectMode::kLive) : mode_(mode) {}

  EffectMode mode() const { return mode_; }
  bool live() const { return mode_ == EffectMode::kLive; }
  bool offline() const { return mode_ == EffectMode::kOffline; }

  void capture(Effect effect) { captured_.push_back(std::move(effect)); }
  const std::vector<Effect>& captured() const { return captured_; }

  // Files a captured effect would have made (a backup, its gzip), with their expected size,
  // so the rest of a dry run (stat, attach) sees them as the live run would.
  void add_virtual_file(const std::filesystem::path& path, uintmax_t size) { virtual_files_[path] = size; }
  void remove_virtual_file(const std::filesystem::path& path) { virtual_files_.erase(path); }
  const uintmax_t* virtual_file(const std::filesystem::path& path) const {
    auto it = virtual_files_.find(path);
    return it == virtual_files_.end() ? nullptr : &it->second;
  }

 private:
  EffectMode mode_;
  std::vector<Effect> captured_;
  std::map<std::filesystem::path, uintmax_t> virtual_files_;
};

}  // namespace cronhost::api
