// Every host log line parses: JSON lines with nlohmann's parser, logfmt lines with a small
// parser here (the integration tests parse a real daemon's log the same way in Python).
#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <map>
#include <sstream>

#include "util/log_line.hpp"

using namespace cronhost;

namespace {

// A logfmt line as key -> value (quoted values unescaped with JSON's rules); throws on a line
// that is not logfmt.
std::map<std::string, std::string> parse_logfmt(const std::string& line) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    const size_t eq = line.find('=', i);
    if (eq == std::string::npos || eq == i) throw std::runtime_error("no key=value at " + std::to_string(i) + ": " + line);
    const std::string key = line.substr(i, eq - i);
    if (key.find_first_of(" \"") != std::string::npos) throw std::runtime_error("bad key " + key);
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {
      size_t end = i + 1;
      while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
      if (end >= line.size()) throw std::runtime_error("unterminated value in " + line);
      out[key] = nlohmann::json::parse(line.substr(i, end - i + 1)).get<std::string>();
      i = end + 1;
    } else {
      const size_t end = std::min(line.find(' ', i), line.size());
      out[key] = line.substr(i, end - i);
      if (out[key].find_first_of("\"=") != std::string::npos) throw std::runtime_error("bad bare value " + out[key]);
      i = end;
    }
    if (i < line.size() && line[i++] != ' ') throw std::runtime_error("no space after a value in " + line);
  }
  return out;
}

struct CapturedLogger {
  std::ostringstream out;
  spdlog::logger logger{"test", std::make_shared<spdlog::sinks::ostream_sink_st>(out)};
  explicit CapturedLogger(LogLineFormat format) {
    logger.set_formatter(std::make_unique<LogLineFormatter>(format));
    logger.set_level(spdlog::level::trace);
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

// Text a job, a SQLite error or a job's params can hold: quotes, newlines, '=', backslashes,
// control characters, C1 and U+2028, invalid UTF-8 (a lone continuation byte, a truncated
// sequence, an overlong '/', a surrogate).
const std::string kHostile =
    "say \"hi\"\nkey=value\\ tab\t bell\a esc\x1b del\x7f nel\xc2\x85 ls\xe2\x80\xa8 bad\x80 cut\xe2\x82 over\xc0\xaf "
    "sur\xed\xa0\x80 ok\xc3\xa9";
const std::string kHostileReplaced =
    "say \"hi\"\nkey=value\\ tab\t bell\a esc\x1b del\x7f nel\xc2\x85 ls\xe2\x80\xa8 bad\xef\xbf\xbd cut\xef\xbf\xbd\xef\xbf\xbd "
    "over\xef\xbf\xbd\xef\xbf\xbd sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok\xc3\xa9";

}  // namespace

TEST_CASE("JSON strings escape quotes, controls and line separators and replace invalid UTF-8", "[log]") {
  const std::pair<std::string, std::string> rows[] = {
      {"plain", R"("plain")"},
      {"a \"q\" \\ b", R"("a \"q\" \\ b")"},
      {"1\n2\r3\t4\b5", R"("1\n2\r3\t4\u00085")"},
      {"\x1b[31m\x7f", R"("\u001b[31m\u007f")"},
      {"\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9", R"("\u0085|\u2028|\u2029")"},
      {"caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
      {"\xff", "\"\xef\xbf\xbd\""},
      {std::string("nul\0byte", 8), R"("nul\u0000byte")"},
  };
  for (const auto& [text, expected] : rows) {
    std::string out;
    append_json_string(out, text);
    CHECK(out == expected);
    CHECK_NOTHROW(nlohmann::json::parse(out));
  }
}

TEST_CASE("logfmt values are bare when they can be and quoted otherwise", "[log]") {
  const std::pair<std::string, std::string> rows[] = {
      {"backup", "backup"},
      {"/var/log/x.log", "/var/log/x.log"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
      {"", R"("")"},
      {"two words", R"("two words")"},
      {"a=b", R"("a=b")"},
      {"say\"", R"("say\"")"},
      {"C:\\x", R"("C:\\x")"},
      {"line\nbreak", R"("line\nbreak")"},
      {"\xff", "\"\xef\xbf\xbd\""},
  };
  for (const auto& [text, expected] : rows) {
    std::string out;
    append_logfmt_value(out, text);
    CHECK(out == expected);
  }
}

TEST_CASE("a plain spdlog call and an event with fields are each one JSON object", "[log]") {
  CapturedLogger captured(LogLineFormat::kJson);
  captured.logger.error("sqlite said: {}", "near \"SELEC\": syntax error\nline 2");
  const nlohmann::json fields = {{"job", kHostile}, {"run", 42}, {"ok", true}, {"gone", nullptr},
                                 {"list", nlohmann::json::array({"a\"b", 1})}, {"msg", "mine"}, {"time", 1}};
  {
    EventFieldsScope scope(&fields);
    captured.logger.warn(kHostile);
  }
  captured.logger.info("after the event: no fields");
  const auto lines = captured.lines();
  REQUIRE(lines.size() == 3);
  std::vector<nlohmann::json> parsed;
  for (const auto& line : lines) parsed.push_back(nlohmann::json::parse(line));
  CHECK(parsed[0]["level"] == "error");
  CHECK(parsed[0]["msg"] == "sqlite said: near \"SELEC\": syntax error\nline 2");
  CHECK(parsed[0].size() == 3);
  CHECK_THAT(parsed[0]["time"].get<std::string>(), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)"));
  CHECK(parsed[1]["level"] == "warning");
  CHECK(parsed[1]["msg"] == kHostileReplaced);
  CHECK(parsed[1]["job"] == kHostileReplaced);
  CHECK(parsed[1]["run"] == 42);
  CHECK(parsed[1]["ok"] == true);
  CHECK(parsed[1]["gone"].is_null());
  CHECK(parsed[1]["list"] == nlohmann::json::array({"a\"b", 1}));
  CHECK(parsed[1]["field.msg"] == "mine");  // the line's own keys are never overwritten
  CHECK(parsed[1]["field.time"] == 1);
  CHECK(parsed[1]["time"].is_string());
  CHECK(parsed[2].size() == 3);
}

TEST_CASE("a plain spdlog call and an event with fields are each one logfmt line", "[log]") {
  CapturedLogger captured(LogLineFormat::kLogfmt);
  captured.logger.error("sqlite said: {}", "near \"SELEC\": syntax error\nline 2");
  const nlohmann::json fields = {{"job", kHostile}, {"run", 42}, {"ok", true}, {"list", nlohmann::json::array({"a\"b", 1})},
                                 {"level", "mine"}, {"bad key", "x"}, {"empty", ""}};
  {
    EventFieldsScope scope(&fields);
    captured.logger.warn("run finished");
  }
  const auto lines = captured.lines();
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::Matches(R"(time=\S+ level=error msg="sqlite said: near \\"SELEC\\": syntax error\\nline 2")"));
  const auto first = parse_logfmt(lines[0]);
  CHECK(first.at("msg") == "sqlite said: near \"SELEC\": syntax error\nline 2");
  const auto second = parse_logfmt(lines[1]);
  CHECK(second.at("level") == "warning");
  CHECK(second.at("msg") == "run finished");
  CHECK(second.at("job") == kHostileReplaced);
  CHECK(second.at("run") == "42");
  CHECK(second.at("ok") == "true");
  CHECK(second.at("list") == R"(["a\"b",1])");
  CHECK(second.at("field.level") == "mine");
  CHECK(second.at("bad_key") == "x");
  CHECK(second.at("empty").empty());
}
