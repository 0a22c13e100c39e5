#include "util/log_line.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace cronhost {
namespace {

thread_local const nlohmann::json* t_event_fields = nullptr;

constexpr char32_t kReplacement = 0xFFFD;

// The code point starting at s[i] and its length in bytes; length 0: not valid UTF-8 there
// (a stray byte, a truncated or overlong sequence, a surrogate, beyond U+10FFFF).
size_t decode_utf8(std::string_view s, size_t i, char32_t& cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  size_t length;
  char32_t min;
  if ((lead & 0xE0) == 0xC0) length = 2, cp = lead & 0x1F, min = 0x80;
  else if ((lead & 0xF0) == 0xE0) length = 3, cp = lead & 0x0F, min = 0x800;
  else if ((lead & 0xF8) == 0xF0) length = 4, cp = lead & 0x07, min = 0x10000;
  else return 0;
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

// Characters a line must not hold as they are: C0 and C1 controls, DEL, and the Unicode line
// and paragraph separators (Python's splitlines, JavaScript and some viewers break lines there).
bool must_escape(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// `text` with JSON's string escapes, without the quotes: logfmt's quoted values use the same.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    const size_t length = decode_utf8(text, i, cp);
    if (length == 0) {
      append_utf8(out, kReplacement);
      ++i;
      continue;
    }
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (must_escape(cp)) {
          out += "\\u";
          for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
        } else {
          out.append(text.substr(i, length));
        }
    }
    i += length;
  }
}

bool bare_logfmt_value(std::string_view text) {
  if (text.empty()) return false;
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    const size_t length = decode_utf8(text, i, cp);
    if (length == 0 || cp == ' ' || cp == '"' || cp == '=' || cp == '\\' || must_escape(cp)) return false;
    i += length;
  }
  return true;
}

// A field's name: JSON takes any (escaped); logfmt keys are kept to [A-Za-z0-9_.-], others
// become '_', so a key never needs quoting (the fields' names come from the code anyway).
void append_logfmt_key(std::string& out, std::string_view key) {
  if (key.empty()) out += '_';
  for (const char c : key)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') ? c : '_';
}

// A field named like one of the line's own keys is written as field.NAME: the line's time,
// level and msg are never overwritten.
std::string field_key(const std::string& key) {
  return key == "time" || key == "level" || key == "msg" ? "field." + key : key;
}

// `value` as JSON with this file's string escapes at every depth (nlohmann's dump leaves C1
// controls and U+2028 as they are, and throws on invalid UTF-8 unless told otherwise).
void append_json_value(std::string& out, const nlohmann::json& value) {
  if (value.is_string()) {
    append_json_string(out, value.get_ref<const std::string&>());
  } else if (value.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, child] : value.items()) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, key);
      out += ':';
      append_json_value(out, child);
    }
    out += '}';
  } else if (value.is_array()) {
    out += '[';
    for (size_t i = 0; i < value.size(); ++i) {
      if (i) out += ',';
      append_json_value(out, value[i]);
    }
    out += ']';
  } else {
    out += value.dump();  // numbers, booleans, null
  }
}

// A field's value: JSON as such; logfmt takes strings as values, numbers, booleans and null
// bare, arrays and objects as their JSON text (quoted).
void append_value(std::string& out, const nlohmann::json& value, LogLineFormat format) {
  if (format == LogLineFormat::kJson) return append_json_value(out, value);
  if (value.is_string()) return append_logfmt_value(out, value.get_ref<const std::string&>());
  if (value.is_primitive()) {
    out += value.dump();
    return;
  }
  std::string text;
  append_json_value(text, value);
  append_logfmt_value(out, text);
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  append_escaped(out, text);
  out += '"';
}

void append_logfmt_value(std::string& out, std::string_view text) {
  if (bare_logfmt_value(text)) {
    out.append(text);
    return;
  }
  append_json_string(out, text);
}

std::string log_time_text(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm local{};
  localtime_r(&t, &local);
  const long offset_minutes = local.tm_gmtoff / 60;
  const long offset = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char text[80];  // room for any int the compiler cannot rule out (-Wformat-truncation)
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02ld:%02ld", local.tm_year + 1900,
                local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec, static_cast<int>(millis),
                offset_minutes < 0 ? '-' : '+', offset / 60, offset % 60);
  return text;
}

EventFieldsScope::EventFieldsScope(const nlohmann::json* fields) : previous_(t_event_fields) { t_event_fields = fields; }
EventFieldsScope::~EventFieldsScope() { t_event_fields = previous_; }

void LogLineFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const bool json = format_ == LogLineFormat::kJson;
  const auto level = spdlog::level::to_string_view(msg.level);
  const std::string_view text(msg.payload.data(), msg.payload.size());
  std::string line;
  line.reserve(96 + text.size());
  if (json) {
    line += R"({"time":")" + log_time_text(msg.time) + R"(","level":")";
    line.append(level.data(), level.size());
    line += R"(","msg":)";
    append_json_string(line, text);
  } else {
    line += "time=" + log_time_text(msg.time) + " level=";
    line.append(level.data(), level.size());
    line += " msg=";
    append_logfmt_value(line, text);
  }
  if (t_event_fields && t_event_fields->is_object())
    for (const auto& [key, value] : t_event_fields->items()) {
      if (json) {
        line += ',';
        append_json_string(line, field_key(key));
        line += ':';
      } else {
        line += ' ';
        append_logfmt_key(line, field_key(key));
        line += '=';
      }
      append_value(line, value, format_);
    }
  if (json) line += '}';
  line += '\n';
  dest.append(line.data(), line.data() + line.size());
}

}  // namespace cronhost
