#include "util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <cstdio>

#include "util/clock.hpp"
#include "util/log_line.hpp"

namespace cronhost {
namespace {

// The file SIGUSR1 reopens; null without log.file. Set before threads start.
std::shared_ptr<LogFileSink> g_file;
LogLineFormat g_format = LogLineFormat::kLogfmt;
// False in the commands other than run, whose spdlog keeps its own pattern: log_event then
// writes its fields into the message, as logfmt, or they would be lost.
bool g_configured = false;

// A sink that failed (a rotation's rename, a full disk) is said on stderr in the log's own
// shape, not spdlog's "[*** LOG ERROR ***]" line, at most once a second.
void report_sink_error(const std::string& error) {
  static std::atomic<int64_t> last_ms{0};
  const int64_t now = now_ms();
  int64_t last = last_ms.load();
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) return;
  const nlohmann::json fields = {{"error", error}};
  EventFieldsScope scope(&fields);
  spdlog::details::log_msg msg("cronhost", spdlog::level::err, "logging failed");
  spdlog::memory_buf_t line;
  LogLineFormatter(g_format).format(msg, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string setup_logging(const LogOptions& options) {
  g_format = options.json ? LogLineFormat::kJson : LogLineFormat::kLogfmt;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  if (!options.file.empty()) {
    try {
      g_file = std::make_shared<LogFileSink>(options.file, options.policy);
      sinks.push_back(g_file);
    } catch (const spdlog::spdlog_ex& e) {
      return std::string("cannot open the log file: ") + e.what();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("cronhost", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(options.level));
  logger->set_formatter(std::make_unique<LogLineFormatter>(g_format));
  logger->set_error_handler(report_sink_error);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  g_configured = true;
  return "";
}

std::string reopen_log_file() {
  if (!g_file) return "no log file to reopen (log.file is unset)";
  try {
    g_file->reopen();
    return "";
  } catch (const spdlog::spdlog_ex& e) {
    return std::string("cannot reopen the log file: ") + e.what();
  }
}

void log_event(spdlog::level::level_enum level, std::string_view message, const nlohmann::json& fields) {
  if (!spdlog::should_log(level)) return;
  if (!g_configured) {
    std::string text(message);
    if (fields.is_object())
      for (const auto& [key, value] : fields.items()) {
        text += " " + key + "=";
        if (value.is_string()) append_logfmt_value(text, value.get_ref<const std::string&>());
        else text += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    spdlog::default_logger_raw()->log(level, spdlog::string_view_t(text.data(), text.size()));
    return;
  }
  EventFieldsScope scope(&fields);
  spdlog::default_logger_raw()->log(level, spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace cronhost
