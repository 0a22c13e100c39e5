#include "util/log.hpp"

#include <spdlog/sinks/daily_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "util/reopenable_file_sink.hpp"

namespace cronhost {
namespace {

bool g_json = false;
// The file SIGUSR1 reopens (log.rotate: none); null otherwise. Set before threads start.
std::shared_ptr<ReopenableFileSink> g_reopenable;

}  // namespace

std::string setup_logging(const LogOptions& options) {
  g_json = options.json;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  if (!options.file.empty()) {
    try {
      if (options.daily) {
        sinks.push_back(std::make_shared<spdlog::sinks::daily_file_sink_mt>(
            options.file.string(), 0, 0, false, static_cast<uint16_t>(options.keep_days)));
      } else {
        g_reopenable = std::make_shared<ReopenableFileSink>(options.file.string());
        sinks.push_back(g_reopenable);
      }
    } catch (const spdlog::spdlog_ex& e) {
      return std::string("cannot open the log file: ") + e.what();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("cronhost", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(options.level));
  logger->set_pattern(g_json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l",%v})"
                             : "%Y-%m-%dT%H:%M:%S.%e%z %-5l %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return "";
}

std::string reopen_log_file() {
  if (!g_reopenable) return "no log file to reopen (log.file unset, or log.rotate: daily, which rotates itself)";
  try {
    g_reopenable->reopen();
    return "";
  } catch (const spdlog::spdlog_ex& e) {
    return std::string("cannot reopen the log file: ") + e.what();
  }
}

void log_event(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields) {
  if (!spdlog::should_log(level)) return;
  if (g_json) {
    nlohmann::json line = {{"msg", message}};
    if (fields.is_object()) line.update(fields);
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    spdlog::log(level, "{}", std::string_view(text).substr(1, text.size() - 2));
    return;
  }
  std::string text(message);
  if (fields.is_object())
    for (const auto& [key, value] : fields.items())
      text += " " + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  spdlog::log(level, "{}", text);
}

}  // namespace cronhost
