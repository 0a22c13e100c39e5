// The one shape of every host log line, whichever code wrote it (log_event or a plain
// spdlog::info): a JSON object per line, or a logfmt line (key=value pairs), both starting
// with time, level and msg and then the event's fields. Any text (a job's log, a SQLite error,
// a job name) is escaped, so a line is always one line and always parses: control characters,
// quotes, U+0085/U+2028/U+2029 (line breaks to some readers) escaped, invalid UTF-8 replaced
// by U+FFFD.
// Thread-safety: a LogLineFormatter is used under its sink's mutex (spdlog clones one per sink);
// the fields of the event being logged travel in a thread_local (EventFieldsScope), read by the
// formatter on the same thread (the loggers are synchronous).
#pragma once
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <chrono>
#include <string>
#include <string_view>

namespace cronhost {

enum class LogLineFormat { kLogfmt, kJson };

// Appends `text` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view text);
// Appends `text` as a logfmt value: bare when it is non-empty and holds no space, quote,
// backslash, `=` or character that needs escaping; else quoted with JSON's escapes.
void append_logfmt_value(std::string& out, std::string_view text);
// The line's time: local time with milliseconds and the UTC offset, RFC 3339
// ("2026-12-04T21:19:11.123+01:00").
std::string log_time_text(std::chrono::system_clock::time_point time);

// The fields of the event logged on this thread while it lives: log_event sets them around
// its spdlog call, so the formatter writes them as fields rather than inside the message.
class EventFieldsScope {
 public:
  explicit EventFieldsScope(const nlohmann::json* fields);
  ~EventFieldsScope();
  EventFieldsScope(const EventFieldsScope&) = delete;
  EventFieldsScope& operator=(const EventFieldsScope&) = delete;

 private:
  const nlohmann::json* previous_;
};

class LogLineFormatter final : public spdlog::formatter {
 public:
  explicit LogLineFormatter(LogLineFormat format) : format_(format) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LogLineFormatter>(format_); }

 private:
  LogLineFormat format_;
};

}  // namespace cronhost
