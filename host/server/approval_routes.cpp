// Approvals: list, one, approve (the approver is the token's name), cancel.
#include "server/http_json.hpp"
#include "server/routes.hpp"
#include "util/clock.hpp"

namespace cronhost::server {
namespace {

// The approval in the path, or nothing after replying 404 (or 500).
std::optional<store::Approval> find_approval(const ApiContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const int64_t id = std::stoll(req.matches[1]);
  auto found = ctx.reader.approval(id);
  if (!found) {
    reply_error(res, 500, "internal", found.message());
    return std::nullopt;
  }
  if (!found.value()) reply_error(res, 404, "not_found", "no approval " + std::to_string(id));
  return found.value();
}

}  // namespace

void add_approval_routes(Router& router, const ApiContext& ctx) {
  using P = Permission;
  constexpr const char* kApproval = R"(/api/approvals/(\d{1,18}))";

  router.get("/api/approvals", P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    store::ApprovalQuery query;
    query.kind = req.get_param_value("kind");
    query.job = req.get_param_value("job");
    if (const std::string status = req.get_param_value("status"); !status.empty()) {
      query.status = store::parse_approval_status(status);
      if (!query.status)
        return reply_error(res, 400, "bad_request", "status=" + status + ": expected pending, approved, executed, failed or superseded");
    }
    const auto limit = query_int(req, res, "limit", 100, 1, 1000);
    if (!limit) return;
    query.limit = static_cast<int>(*limit);
    auto approvals = ctx.reader.approvals(query);
    auto pending = ctx.reader.approvals_count(store::ApprovalStatus::kPending);
    if (!approvals || !pending) return reply_error(res, 500, "internal", !approvals ? approvals.message() : pending.message());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& a : approvals.value()) list.push_back(store::approval_to_json(a));
    reply(res, 200, {{"approvals", list}, {"pending", pending.value()}});
  });

  router.get(kApproval, P::kRead, [&ctx](const auto& req, auto& res, const Caller&) {
    if (auto approval = find_approval(ctx, req, res)) reply(res, 200, store::approval_to_json(*approval));
  });

  router.post(std::string(kApproval) + "/approve", P::kApprove, [&ctx](const auto& req, auto& res, const Caller& caller) {
    auto body = read_object(req, res);
    if (!body) return;
    if (body->contains("note") && !(*body)["note"].is_string())
      return reply_error(res, 400, "bad_request", "note: expected a string");
    auto approval = find_approval(ctx, req, res);
    if (!approval) return;
    // The audit row commits with the decision (the caller's name is both who decided and who acted).
    auto decided = ctx.store.approval_decide(approval->id, store::ApprovalStatus::kApproved, caller.name,
                                             body->value("note", ""), now_ms(), caller.name);
    if (!decided) return reply_error(res, 409, "conflict", decided.message());
    ctx.log_action(caller, "approval.approve", std::to_string(approval->id));
    reply(res, 200, store::approval_to_json(decided.value()));
  });

  router.del(kApproval, P::kApprove, [&ctx](const auto& req, auto& res, const Caller& caller) {
    auto approval = find_approval(ctx, req, res);
    if (!approval) return;
    const std::string note = req.get_param_value("note");  // DELETE has no body: ?note=why
    auto cancelled = ctx.store.approval_cancel(approval->id, caller.name, note, now_ms(), caller.name);
    if (!cancelled) return reply_error(res, 409, "conflict", cancelled.message());
    ctx.log_action(caller, "approval.cancel", std::to_string(approval->id));
    reply(res, 200, store::approval_to_json(cancelled.value()));
  });
}

}  // namespace cronhost::server
