#include "api/approvals.hpp"

#include "api/permissions.hpp"

namespace cronhost::api {
namespace {

Status check_text(const char* field, const std::string& value, size_t max_bytes) {
  if (value.empty() || value.size() > max_bytes)
    return Status::error(std::string("field '") + field + "' must be 1 to " + std::to_string(max_bytes) + " bytes");
  return Status::ok();
}

// Secrets must not reach the state file, where people and events read them.
void redact_strings(const Redactor& redactor, nlohmann::json& value) {
  if (value.is_string())
    value = redactor.apply(value.get_ref<const std::string&>());
  else if (value.is_structured())
    for (auto& item : value) redact_strings(redactor, item);
}

}  // namespace

Result<store::ApprovalAsk> RunApprovals::check_request(const ApprovalAskArgs& args) const {
  for (const auto& [field, value] : {std::pair<const char*, const std::string*>{"kind", &args.kind}, {"key", &args.key}})
    if (auto checked = check_text(field, *value, kMaxApprovalNameBytes); !checked) return checked;
  if (args.group)
    if (auto checked = check_text("group", *args.group, kMaxApprovalNameBytes); !checked) return checked;
  if (auto checked = check_text("title", args.title, kMaxApprovalTitleBytes); !checked) return checked;
  nlohmann::json payload = args.payload;
  redact_strings(redactor_, payload);
  std::string payload_json = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (payload_json.size() > kMaxApprovalPayloadBytes)
    return Status::error("field 'payload' is larger than 64 KiB as JSON");
  return store::ApprovalAsk{.job = job_.name,
                            .kind = args.kind,
                            .key = args.key,
                            .title = redactor_.apply(args.title),
                            .payload_json = std::move(payload_json),
                            .group = args.group.value_or(""),
                            .once = args.once};
}

Result<ApprovalAnswer> RunApprovals::request(const store::ApprovalAsk& ask) {
  if (!store_) return Status::error(kNoStateFile);
  if (effects_.live()) {
    auto requested = store_->approval_request(ask, clock_.now_ms());
    if (!requested) return Status::error(requested.message());
    return ApprovalAnswer{requested->approval, requested->created, false};
  }
  auto open = store_->approval_open(ask.job, ask.kind, ask.key);
  if (!open) return Status::error(open.message());
  if (ask.once && !*open) {
    auto executed = store_->approvals(
        {.kind = ask.kind, .key = ask.key, .job = ask.job, .status = store::ApprovalStatus::kExecuted, .limit = 1});
    if (!executed) return Status::error(executed.message());
    if (!executed->empty()) open.value() = executed->front();
  }
  const std::string state =
      *open ? "(exists: " + std::to_string((*open)->id) + " " + std::string(store::to_string((*open)->status)) + ")"
            : "(new)";
  effects_.capture({"approvals",
                    redactor_.apply("request " + ask.kind + "/" + ask.key + " \"" + ask.title + "\" " + state),
                    {{"kind", ask.kind},
                     {"key", ask.key},
                     {"title", ask.title},
                     {"payload", nlohmann::json::parse(ask.payload_json.empty() ? "{}" : ask.payload_json)}}});
  if (*open) return ApprovalAnswer{**open, false, false};
  return ApprovalAnswer{store::Approval{.id = 0,
                                        .job = ask.job,
                                        .kind = ask.kind,
                                        .key = ask.key,
                                        .title = ask.title,
                                        .payload_json = ask.payload_json,
                                        .requested_at = clock_.now_ms(),
                                        .group = ask.group},
                        true, true};
}

Result<store::ApprovalQuery> RunApprovals::check_list(const ApprovalListArgs& args) const {
  store::ApprovalQuery query;
  query.kind = args.kind;
  query.key = args.key;
  query.job = args.job;
  if (!query.job.empty() && !may_use_approvals_of(job_, query.job))
    return Status::error("field 'job': job " + job_.name + " may not see the approvals of job '" + query.job +
                         "' (name it in allow.approvals)");
  if (query.job.empty()) query.jobs = approval_owners(job_);
  if (args.status) {
    query.status = store::parse_approval_status(*args.status);
    if (!query.status)
      return Status::error("field 'status' must be one of PENDING, APPROVED, EXECUTED, FAILED, SUPERSEDED (got '" +
                           *args.status + "')");
  }
  if (args.limit) {
    if (!(*args.limit >= 1 && *args.limit <= kMaxApprovalListLimit))
      return Status::error("field 'limit' must be from 1 to 1000");
    query.limit = static_cast<int>(*args.limit);
  }
  return query;
}

Result<std::vector<store::Approval>> RunApprovals::list(const store::ApprovalQuery& query) {
  if (!store_) return Status::error(kNoStateFile);
  return store_->approvals(query);
}

Result<std::optional<store::Approval>> RunApprovals::get(int64_t id) {
  if (!store_) return Status::error(kNoStateFile);
  auto found = store_->approval(id);
  if (!found) return found;
  if (!found.value() || !may_use_approvals_of(job_, (*found)->job)) return std::optional<store::Approval>();
  return found;
}

Status RunApprovals::mark(int64_t id, store::ApprovalStatus outcome, std::string_view notes_given) {
  if (!store_) return Status::error(kNoStateFile);
  const std::string notes = redactor_.apply(notes_given);
  const std::string outcome_name(store::to_string(outcome));
  // Another job's approval is answered as a missing one: its existence is not this job's to know.
  // An approval's job never changes, so the check holds for the mark that follows.
  auto found = store_->approval(id);
  if (!found) return Status::error(found.message());
  if (!found.value() || !may_use_approvals_of(job_, (*found)->job))
    return Status::error("no approval " + std::to_string(id) + " of job " + job_.name +
                         " or of the jobs in its allow.approvals");
  if (!effects_.live()) {
    // What the live call would answer, from the real record.
    if ((*found)->status != store::ApprovalStatus::kApproved)
      return Status::error("approval " + std::to_string(id) + " is " + std::string(store::to_string((*found)->status)) +
                           "; only an APPROVED approval can be marked " + outcome_name);
    effects_.capture({"approvals",
                      "mark " + std::to_string(id) + " " + outcome_name + (notes.empty() ? "" : ": " + notes),
                      {{"id", id}, {"status", outcome_name}, {"notes", notes}}});
    return Status::ok();
  }
  auto marked = store_->approval_mark(id, outcome, notes, clock_.now_ms());
  if (!marked) return Status::error(marked.message());
  return Status::ok();
}

}  // namespace cronhost::api
