// Jobs: list, detail, trigger, enable/disable, schedule overrides, registration, stats.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "config/job_json.hpp"
#include "notify/event_document.hpp"
#include "schedule/cron_parser.hpp"
#include "server/http_json.hpp"
#include "server/routes.hpp"
#include "server/views.hpp"
#include "util/clock.hpp"

namespace cronhost::server {
namespace {

constexpr const char* kJob = R"(/api/jobs/([A-Za-z0-9._-]+))";

Instant now_instant() { return Instant(std::chrono::seconds(now_ms() / 1000)); }
int64_t to_unix_ms(Instant t) { return t.time_since_epoch().count() * 1000; }

int status_for(dispatch::Problem problem) {
  switch (problem) {
    case dispatch::Problem::kNone: return 200;
    case dispatch::Problem::kNotFound: return 404;
    case dispatch::Problem::kConflict: return 409;
    case dispatch::Problem::kInvalid: return 400;
    case dispatch::Problem::kFailed: return 500;
  }
  return 500;
}

// Replies with the refusal; true when there was one.
bool refused(httplib::Response& res, const dispatch::Change& change) {
  if (change.problem == dispatch::Problem::kNone) return false;
  const int status = status_for(change.problem);
  reply_error(res, status, error_code_for(status), change.message);
  return true;
}

nlohmann::json summary_of(const ApiContext& ctx, const dispatch::JobView& job) {
  const std::string& name = job.spec->name;
  return job_summary(job, ctx.reader.job_state(name), ctx.scheduler.running(name), now_instant());
}

// The job named in the path, or nothing after replying 404.
std::optional<dispatch::JobView> find_job(const ApiContext& ctx, const std::string& name, httplib::Response& res) {
  auto job = ctx.registry.find(name);
  if (!job) reply_error(res, 404, "not_found", "no job named \"" + name + "\"");
  return job;
}

bool status_matches(const std::string& wanted, const dispatch::JobView& job, const store::JobState* state,
                    size_t running) {
  if (wanted.empty()) return true;
  if (wanted == "enabled") return job.spec->enabled;
  if (wanted == "disabled") return !job.spec->enabled;
  if (wanted == "running") return running > 0;
  if (wanted == "never") return !state || state->last_status.empty();
  if (!state) return false;
  if (wanted == "failed") return state->last_status == "failed" || state->last_status == "timed_out";
  return state->last_status == wanted;
}

// The jobs list's orders: by name (the default; `after` is then the last name shown), or by
// next fire, last run or last status (`after` is then an offset). Ties go by name.
enum class JobOrder { kName, kNextFire, kLastRun, kStatus };

std::optional<JobOrder> parse_order(std::string_view text) {
  if (text.empty() || text == "name") return JobOrder::kName;
  if (text == "next_fire") return JobOrder::kNextFire;
  if (text == "last_run") return JobOrder::kLastRun;
  if (text == "status") return JobOrder::kStatus;
  return std::nullopt;
}

// Problems first when sorting by status ascending; nothing for a job that never ran (last
// either way).
std::optional<int64_t> status_rank(const std::string& status, size_t running) {
  if (running > 0) return 1;
  if (status == "failed" || status == "timed_out" || status == "interrupted") return 0;
  if (status == "queued") return 2;
  if (status == "cancelled" || status == "skipped") return 3;
  if (status == "succeeded") return 4;
  return std::nullopt;
}

// Case-insensitive: "Back" finds "nightly-backup" and a description saying "backup".
bool contains_text(const config::JobSpec& job, const std::string& lowered_query) {
  if (lowered_query.empty()) return true;
  const auto has = [&](const std::string& text) {
    std::string lower(text.size(), ' ');
    std::transform(text.begin(), text.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    return lower.find(lowered_query) != std::string::npos;
  };
  return has(job.name) || has(job.description);
}

void list_jobs(const ApiContext& ctx, const httplib::Request& req, httplib::Response& res) {
  static const std::set<std::string> kStatuses = {"",        "enabled", "disabled", "running", "succeeded",
                                                  "failed",  "never",   "skipped",  "cancelled"};
  const auto limit = query_int(req, res, "limit", 100, 1, 1000);
  if (!limit) return;
  // The strip of recent statuses: 20 cells fit a phone's row.
  const auto recent = query_int(req, res, "recent", 20, 0, 50);
  if (!recent) return;
  const std::string prefix = req.get_param_value("prefix"), after = req.get_param_value("after"),
                    status = req.get_param_value("status"), sort = req.get_param_value("sort");
  std::string query = req.get_param_value("q");
  std::transform(query.begin(), query.end(), query.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!kStatuses.count(status))
    return reply_error(res, 400, "bad_request",
                       "status=" + status + ": expected enabled, disabled, running, succeeded, failed, skipped, cancelled or never");
  const bool descending = !sort.empty() && sort.front() == '-';
  const auto order = parse_order(descending ? std::string_view(sort).substr(1) : std::string_view(sort));
  if (!order)
    return reply_error(res, 400, "bad_request",
                       "sort=" + sort + ": expected name, next_fire, last_run or status, with a leading - for descending");
  size_t offset = 0;
  if (*order != JobOrder::kName && !after.empty()) {
    const auto parsed = std::from_chars(after.data(), after.data() + after.size(), offset);
    if (parsed.ec != std::errc() || parsed.ptr != after.data() + after.size())
      return reply_error(res, 400, "bad_request", "after=" + after + ": expected the `next` of the previous page");
  }
  // Filters and orders on the last run need every job's state (one query); otherwise only the
  // page's jobs are looked up, in one call after the page is known.
  const bool by_last_run = (!status.empty() && status != "enabled" && status != "disabled" && status != "running") ||
                           *order == JobOrder::kLastRun || *order == JobOrder::kStatus;
  std::map<std::string, store::JobState> states;
  if (by_last_run)
    for (auto& s : ctx.reader.job_states()) states.emplace(s.job, std::move(s));
  const auto running = ctx.scheduler.running_by_job();
  const auto running_now = [&](const std::string& name) {
    const auto it = running.find(name);
    return it == running.end() ? size_t{0} : it->second;
  };
  const Instant now = now_instant();
  std::vector<dispatch::JobView> matched;
  for (auto& job : ctx.registry.list(prefix)) {
    const std::string& name = job.spec->name;
    const auto state = states.find(name);
    if (!status_matches(status, job, state == states.end() ? nullptr : &state->second, running_now(name))) continue;
    if (!contains_text(*job.spec, query)) continue;
    matched.push_back(std::move(job));
  }
  const size_t total = matched.size();
  std::vector<dispatch::JobView> page;
  bool more = false;
  if (*order == JobOrder::kName) {  // the registry lists by name already
    if (descending) std::reverse(matched.begin(), matched.end());
    for (auto& job : matched) {
      const std::string& name = job.spec->name;
      if (!after.empty() && (descending ? name >= after : name <= after)) continue;
      if (page.size() == static_cast<size_t>(*limit)) {
        more = true;
        break;
      }
      page.push_back(std::move(job));
    }
  } else {
    // One key per job, computed once; a missing key (no fire ahead, never ran) sorts last both ways.
    std::vector<std::pair<std::optional<int64_t>, size_t>> keys;
    for (size_t i = 0; i < matched.size(); ++i) {
      const config::JobSpec& spec = *matched[i].spec;
      const auto state = states.find(spec.name);
      const store::JobState* s = state == states.end() ? nullptr : &state->second;
      std::optional<int64_t> key;
      if (*order == JobOrder::kNextFire) {
        if (spec.enabled && spec.schedule.fires_by_time())
          if (auto n = spec.schedule.next(now)) key = to_unix_ms(*n);
      } else if (*order == JobOrder::kLastRun) {
        if (s) key = s->last_finished_at;
      } else {
        key = status_rank(s ? s->last_status : "", running_now(spec.name));
      }
      keys.emplace_back(key, i);
    }
    std::stable_sort(keys.begin(), keys.end(), [descending](const auto& a, const auto& b) {
      if (a.first.has_value() != b.first.has_value()) return a.first.has_value();
      if (!a.first || *a.first == *b.first) return false;
      return descending ? *a.first > *b.first : *a.first < *b.first;
    });
    for (size_t i = offset; i < keys.size(); ++i) {
      if (page.size() == static_cast<size_t>(*limit)) {
        more = true;
        break;
      }
      page.push_back(matched[keys[i].second]);
    }
  }
  std::vector<std::string> names;
  for (const auto& job : page) names.push_back(job.spec->name);
  const auto page_states = ctx.reader.job_states(names);
  const auto page_runs = *recent > 0 ? ctx.reader.recent_runs(names, static_cast<int>(*recent))
                                     : std::vector<std::vector<store::RunBrief>>(names.size());
  nlohmann::json jobs = nlohmann::json::array();
  for (size_t i = 0; i < page.size(); ++i) {
    nlohmann::json entry = job_summary(page[i], page_states[i], running_now(names[i]), now);
    add_recent_runs(entry, page_runs[i]);
    jobs.push_back(std::move(entry));
  }
  nlohmann::json next;
  if (more) next = *order == JobOrder::kName ? nlohmann::json(names.back()) : nlohmann::json(std::to_string(offset + page.size()));
  reply(res, 200, {{"jobs", jobs}, {"total", total}, {"next", next}});
}

void job_detail(const ApiContext& ctx, const dispatch::JobView& job, httplib::Response& res) {
  const Instant now = now_instant();
  nlohmann::json out = summary_of(ctx, job);
  if (job.source == dispatch::JobSource::kApi) {  // as posted, with its secrets masked
    nlohmann::json definition = *job.posted;
    if (definition.contains("params")) definition["params"] = job.defined->printable_params();
    const nlohmann::json::json_pointer headers("/run/http/headers");
    if (definition.contains(headers) && definition[headers].is_object())
      for (auto& [name, value] : definition[headers].items()) value = "***";
    out["definition"] = definition;
  } else {
    out["definition"] = config::job_to_json(*job.defined, now);
  }
  out["file_schedule"] = schedule_json(job.defined->schedule);
  out["next_fires"] = next_fires(*job.spec, now, 5);
  const auto runs = out["runs"].get<int64_t>(), successes = out["successes"].get<int64_t>();
  out["stats"] = {{"runs", runs},
                  {"successes", successes},
                  {"failures", out["failures"]},
                  {"success_rate", runs ? nlohmann::json(static_cast<double>(successes) / static_cast<double>(runs))
                                        : nlohmann::json()}};
  reply(res, 200, out);
}

}  // namespace

void add_job_routes(Router& router, const ApiContext& ctx) {
  using P = Permission;
  router.get("/api/jobs", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) { list_jobs(ctx, req, res); });

  router.get(kJob, P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    if (auto job = find_job(ctx, req.matches[1], res)) job_detail(ctx, *job, res);
  });

  // GET .../notifications[?event=missed][&limit=N]: what notify: decided, newest first.
  router.get(std::string(kJob) + "/notifications", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    const std::string name = req.matches[1];
    if (!ctx.registry.find(name) && !ctx.reader.job_state(name))
      return reply_error(res, 404, "not_found", "no job named \"" + name + "\"");
    store::NotificationQuery query{.job = name};
    if (const std::string event = req.get_param_value("event"); !event.empty()) {
      if (!notify::parse_event_kind(event))
        return reply_error(res, 400, "bad_request",
                           "event: expected failed, timed_out, recovered, missed or no_success_within, got \"" + event + "\"");
      query.events.push_back(event);
    }
    if (const std::string limit = req.get_param_value("limit"); !limit.empty()) {
      if (limit.size() > 4 || !std::all_of(limit.begin(), limit.end(), ::isdigit) || std::stoi(limit) < 1)
        return reply_error(res, 400, "bad_request", "limit: expected a whole number from 1 to 1000, got \"" + limit + "\"");
      query.limit = std::min(1000, std::stoi(limit));
    }
    auto found = ctx.reader.notifications(query);
    if (!found) return reply_error(res, 500, "internal", found.message());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& n : found.value())
      list.push_back({{"event", n.event},
                      {"at", notify::iso_utc(n.at)},
                      {"slot", n.slot && n.event == "missed" ? nlohmann::json(notify::iso_utc(*n.slot)) : nlohmann::json()},
                      {"run_id", n.run_id ? nlohmann::json(*n.run_id) : nlohmann::json()},
                      {"channels", nlohmann::json::parse(n.channels_json, nullptr, false)},
                      {"suppressed", n.suppressed},
                      {"summary", n.summary}});
    reply(res, 200, {{"notifications", list}});
  });

  router.post(std::string(kJob) + "/trigger", P::kOperate, [&ctx](const auto& req, auto& res, const Caller& caller) {
    const std::string name = req.matches[1];
    auto body = read_object(req, res);
    if (!body || !find_job(ctx, name, res)) return;
    const nlohmann::json params = body->value("params", nlohmann::json::object());
    if (!params.is_object()) return reply_error(res, 400, "bad_request", "params: expected a JSON object");
    using Refusal = dispatch::Triggered::Refusal;
    const auto run = ctx.scheduler.trigger(name, params, caller.name);
    if (run.refusal != Refusal::kNone) {
      const int status = run.refusal == Refusal::kNoSuchJob     ? 404
                         : run.refusal == Refusal::kBadParams   ? 400
                         : run.refusal == Refusal::kNotRecorded ? 500
                         : run.refusal == Refusal::kStopping    ? 503
                                                                : 409;
      return reply_error(res, status, error_code_for(status), run.message);
    }
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& [key, value] : params.items()) keys.push_back(key);
    ctx.audit(caller, "job.trigger", name, {{"run", run.run_id}, {"params", keys}});
    reply(res, 202, {{"run_id", run.run_id}, {"job", name}});
  });

  for (const bool enable : {true, false})
    router.post(std::string(kJob) + (enable ? "/enable" : "/disable"), P::kOperate,
                [&ctx, enable](const auto& req, auto& res, const Caller& caller) {
                  const std::string name = req.matches[1];
                  if (refused(res, ctx.registry.set_enabled(name, enable))) return;
                  ctx.audit(caller, enable ? "job.enable" : "job.disable", name);
                  if (auto job = find_job(ctx, name, res)) reply(res, 200, summary_of(ctx, *job));
                });

  router.put(std::string(kJob) + "/schedule", P::kOperate, [&ctx](const auto& req, auto& res, const Caller& caller) {
    const std::string name = req.matches[1];
    auto body = read_object(req, res);
    if (!body || refused(res, ctx.registry.set_schedule(name, *body))) return;
    ctx.audit(caller, "job.schedule.set", name, *body);
    if (auto job = find_job(ctx, name, res)) reply(res, 200, summary_of(ctx, *job));
  });

  router.del(std::string(kJob) + "/schedule", P::kOperate, [&ctx](const auto& req, auto& res, const Caller& caller) {
    const std::string name = req.matches[1];
    if (refused(res, ctx.registry.reset_schedule(name))) return;
    ctx.audit(caller, "job.schedule.reset", name);
    if (auto job = find_job(ctx, name, res)) reply(res, 200, summary_of(ctx, *job));
  });

  router.post("/api/schedule/preview", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    auto body = read_object(req, res);
    if (!body) return;
    // With "job": in that job's zone and with its name (H fields hash it), as saving would.
    config::JobSpec job{.name = "preview", .schedule = schedule::Schedule(schedule::After{}, schedule::Zone::utc())};
    if (body->contains("job")) {
      auto found = (*body)["job"].is_string() ? ctx.registry.find((*body)["job"]) : std::nullopt;
      if (!found) return reply_error(res, 404, "not_found", "job: no job named " + (*body)["job"].dump());
      job = *found->defined;
      body->erase("job");
    }
    // A cron expression that does not parse is answered with where it goes wrong ("column",
    // 0-based in the expression), so the editor can put a caret under it.
    if (body->contains("cron") && (*body)["cron"].is_string()) {
      const std::string text = (*body)["cron"];
      schedule::CronParseError error;
      if (!schedule::parse_cron(text, job.name, &error))
        return reply(res, 400, {{"error", {{"code", "bad_request"}, {"message", "cron \"" + text + "\": " + error.message},
                                           {"field", "cron"}, {"column", std::min(error.offset, text.size())}}}});
    }
    auto schedule = dispatch::schedule_from_json(*body, job);
    if (!schedule) return reply_error(res, 400, "bad_request", schedule.message());
    job.schedule = schedule.value();
    job.enabled = true;
    reply(res, 200, {{"text", schedule_json(job.schedule)["text"]}, {"next_fires", next_fires(job, now_instant(), 5)}});
  });

  router.post("/api/jobs", P::kOperate, [&ctx](const auto& req, auto& res, const Caller& caller) {
    if (!read_object(req, res)) return;
    const auto change = ctx.registry.register_job(req.body, caller.name);
    if (refused(res, change)) return;
    const std::string name = nlohmann::json::parse(req.body)["name"];
    if (change.created || change.updated) ctx.audit(caller, change.created ? "job.register" : "job.update", name);
    auto job = find_job(ctx, name, res);
    if (!job) return;
    reply(res, change.created ? 201 : 200,
          {{"created", change.created}, {"updated", change.updated}, {"job", summary_of(ctx, *job)}});
  });

  router.del(kJob, P::kOperate, [&ctx](const auto& req, auto& res, const Caller& caller) {
    const std::string name = req.matches[1];
    if (refused(res, ctx.registry.unregister(name))) return;
    ctx.audit(caller, "job.unregister", name);
    reply(res, 200, {{"deleted", name}});
  });

  router.get(std::string(kJob) + "/stats", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    const std::string name = req.matches[1];
    if (!find_job(ctx, name, res)) return;
    constexpr int64_t kDayMs = int64_t{24} * 3600'000;
    const int64_t now = now_ms();
    auto stats = ctx.reader.run_stats(name, {now - kDayMs, now - 7 * kDayMs, std::nullopt});
    if (!stats) return reply_error(res, 500, "internal", stats.message());
    reply(res, 200, {{"24h", stats_json(stats.value()[0])}, {"7d", stats_json(stats.value()[1])},
                     {"all", stats_json(stats.value()[2])}});
  });
}

}  // namespace cronhost::server
