// Runs: history per job and across jobs (cursor pagination), one run with its output, cancel.
#include "server/http_json.hpp"
#include "server/routes.hpp"
#include "server/views.hpp"

namespace cronhost::server {
namespace {

// GET .../runs?status=&before=&limit=: newest first; "next" is the `before` of the next page.
void list_runs(const ApiContext& ctx, const std::string& job, const httplib::Request& req, httplib::Response& res) {
  store::RunQuery query;
  query.job = job;
  const auto limit = query_int(req, res, "limit", 50, 1, 500);
  if (!limit) return;
  query.limit = static_cast<int>(*limit) + 1;  // one more than shown: is there a next page?
  if (req.has_param("before")) {
    const auto before = query_int(req, res, "before", 0, 1, INT64_MAX);
    if (!before) return;
    query.before_id = *before;
  }
  if (const std::string status = req.get_param_value("status"); !status.empty()) {
    query.status = store::parse_status(status);
    if (!query.status)
      return reply_error(res, 400, "bad_request",
                         "status=" + status + ": expected queued, running, succeeded, failed, timed_out, skipped, "
                                              "cancelled or interrupted");
  }
  nlohmann::json runs = nlohmann::json::array();
  auto records = ctx.reader.runs(query);
  const bool more = records.size() > static_cast<size_t>(*limit);
  if (more) records.pop_back();
  for (const auto& run : records) runs.push_back(run_summary(run));
  reply(res, 200, {{"runs", runs}, {"next", more ? nlohmann::json(records.back().id) : nlohmann::json()}});
}

std::optional<int64_t> run_id(const httplib::Request& req, httplib::Response& res) {
  try {
    return std::stoll(req.matches[1]);
  } catch (const std::exception&) {
    reply_error(res, 404, "not_found", "no run " + std::string(req.matches[1]));
    return std::nullopt;
  }
}

}  // namespace

void add_run_routes(Router& router, const ApiContext& ctx) {
  using P = Permission;
  router.get(R"(/api/jobs/([A-Za-z0-9._-]+)/runs)", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    const std::string job = req.matches[1];
    // A job removed since keeps its history; a name that never ran is unknown.
    if (!ctx.registry.find(job) && !ctx.reader.job_state(job))
      return reply_error(res, 404, "not_found", "no job named \"" + job + "\"");
    list_runs(ctx, job, req, res);
  });

  router.get("/api/runs", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    list_runs(ctx, req.get_param_value("job"), req, res);
  });

  router.get(R"(/api/runs/(\d{1,18}))", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    const auto id = run_id(req, res);
    if (!id) return;
    auto run = ctx.reader.run(*id);
    if (!run) return reply_error(res, 404, "not_found", "no run " + std::to_string(*id));
    auto detail = run_detail(*run);
    // Its attempts, oldest first: the first run and its retries (the run page groups them).
    store::RunQuery attempts;
    attempts.job = run->job;
    attempts.attempts_of = run->first_run_id.value_or(run->id);
    attempts.limit = 100;
    detail["attempts"] = nlohmann::json::array();
    auto records = ctx.reader.runs(attempts);
    for (auto it = records.rbegin(); it != records.rend(); ++it) detail["attempts"].push_back(run_summary(*it));
    reply(res, 200, detail);
  });

  router.post(R"(/api/runs/(\d{1,18})/cancel)", P::kOperate, [&ctx](const auto& req, auto& res, const Caller& caller) {
    const auto id = run_id(req, res);
    if (!id) return;
    if (ctx.scheduler.cancel(*id)) {
      ctx.audit(caller, "run.cancel", std::to_string(*id));
      return reply(res, 202, {{"id", *id}, {"cancelling", true}});
    }
    auto run = ctx.reader.run(*id);
    if (!run) return reply_error(res, 404, "not_found", "no run " + std::to_string(*id));
    reply_error(res, 409, "conflict",
                "run " + std::to_string(*id) + " is " + std::string(store::to_string(run->status)) +
                    "; only a queued or running run can be cancelled");
  });
}

}  // namespace cronhost::server
