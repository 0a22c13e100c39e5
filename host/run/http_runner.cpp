#include "run/http_runner.hpp"

#include "api/http_client.hpp"
#include "util/time_format.hpp"

namespace cronhost::run {
namespace {

using store::RunStatus;

// What the service sees as triggeredBy: the scheduler's own fires are "scheduler".
std::string triggered_by(store::Trigger trigger) {
  return trigger == store::Trigger::kSchedule ? "scheduler" : std::string(store::to_string(trigger));
}

// The first line of a body, short enough for an error message.
std::string excerpt(std::string_view body) {
  constexpr size_t kMax = 200;
  std::string line(body.substr(0, std::min(body.find('\n'), kMax)));
  return line.size() < body.size() ? line + "..." : line;
}

// "https://svc:8443/jobs/x" -> "https://svc:8443".
std::string origin_of(std::string_view url) {
  const size_t host = url.find("://");
  const size_t path = host == std::string_view::npos ? std::string_view::npos : url.find_first_of("/?#", host + 3);
  return std::string(url.substr(0, path));
}

// An item count: absent is 0; anything but a whole number >= 0 is an error.
bool read_count(const nlohmann::json& result, const char* key, int64_t& out, std::string& error) {
  if (!result.contains(key) || result[key].is_null()) return true;
  const auto& v = result[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    error = std::string(key) + " must be a whole number, 0 or more (got " + v.dump() + ")";
    return false;
  }
  out = v.get<int64_t>();
  return true;
}

}  // namespace

nlohmann::json job_context(const RunContext& ctx) {
  const Instant slot{std::chrono::seconds(ctx.scheduled_for_ms / 1000)};
  return {{"jobName", ctx.job.name},
          {"executionId", std::to_string(ctx.run_id)},
          {"scheduledFor", format_rfc3339(slot, 0)},
          {"triggeredBy", triggered_by(ctx.trigger)},
          {"triggeredByUser", ctx.triggered_by.empty() ? nlohmann::json() : nlohmann::json(ctx.triggered_by)},
          {"attempt", ctx.attempt},
          {"config", ctx.job.params}};
}

RunResult read_job_result(std::string_view body) {
  const auto malformed = [](const std::string& why) {
    return RunResult{RunStatus::kFailed, "", "the service's answer is not a JobResult: " + why};
  };
  auto result = nlohmann::json::parse(body, nullptr, false);
  if (result.is_discarded()) return malformed("not JSON (" + excerpt(body) + ")");
  if (!result.is_object()) return malformed("not a JSON object");
  if (!result.contains("success") || !result["success"].is_boolean())
    return malformed("\"success\" must be true or false");
  store::RunItems items;
  std::string error;
  if (!read_count(result, "itemsProcessed", items.processed, error) ||
      !read_count(result, "itemsSucceeded", items.succeeded, error) ||
      !read_count(result, "itemsFailed", items.failed, error))
    return malformed(error);
  if (result.contains("error") && !result["error"].is_null() && !result["error"].is_string())
    return malformed("\"error\" must be a string");

  RunResult run;
  run.result_json = result.dump();
  if (result.contains("itemsProcessed") || result.contains("itemsSucceeded") || result.contains("itemsFailed"))
    run.items = items;
  if (!result["success"].get<bool>()) {
    run.status = RunStatus::kFailed;
    const std::string said = result.value("error", nlohmann::json()).is_string() ? result["error"].get<std::string>() : "";
    run.error = said.empty() ? "the service reported failure" : "the service reported failure: " + said;
  }
  return run;
}

RunResult run_http(RunContext& ctx) {
  const config::HttpRunner& http = *ctx.job.http;
  api::HttpRequest request;
  request.method = http.method;
  request.url = http.url;
  request.headers = http.headers;
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Accept", "application/json");
  request.headers.emplace_back("User-Agent", "cronhost/" CRONHOST_VERSION);
  request.body = job_context(ctx).dump();
  request.timeout = http.timeout.value_or(ctx.job.timeout);

  const auto started = std::chrono::steady_clock::now();
  // The URL is the job's own (a registered job's was checked against the host's list).
  // Redirects stay on its origin: a service cannot send the JobContext and the job's headers
  // to another host (an internal address, say).
  const std::string origin = origin_of(http.url);
  auto response = ctx.http().perform(request, [&origin](std::string_view url) {
    if (origin_of(url) != origin)
      return Result<std::string>::error("redirect to " + std::string(url) + " refused: it leaves " + origin);
    return Result<std::string>(std::string(url));
  });
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  if (ctx.note_stop()) return stopped_result(ctx);
  if (!response) {
    const bool timed_out = response.message().find("imed out") != std::string::npos;
    const std::string& why = response.message();  // most already name the request
    return {timed_out ? RunStatus::kTimedOut : RunStatus::kFailed, "",
            ctx.redact(why.find(http.url) != std::string::npos ? why : http.method + " " + http.url + ": " + why)};
  }
  const auto& r = response.value();
  ctx.log_line("info", ctx.redact(http.method + " " + http.url + " answered " + std::to_string(r.status) + " in " +
                                  std::to_string(ms) + " ms"));
  if (r.status < 200 || r.status > 299)
    return {RunStatus::kFailed, "",
            ctx.redact(http.method + " " + http.url + " answered " + std::to_string(r.status) +
                       (r.body.empty() ? "" : ": " + excerpt(r.body)))};
  RunResult result = read_job_result(r.body);
  result.error = ctx.redact(result.error);
  if (!result.result_json.empty()) result.result_json = ctx.redactor.apply_json(nlohmann::json::parse(result.result_json));
  return result;
}

}  // namespace cronhost::run
