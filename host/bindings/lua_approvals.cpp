// approvals: ask a person before doing something, and act once they say yes.
//
//   local a = approvals.request{kind = "update", key = "0.1.5", title = "Update app to 0.1.5",
//                               group = "ghcr.io/acme/app", once = true,
//                               payload = {image = "ghcr.io/acme/app", from = "0.1.4"}}
//   if a.created then log.info("asked for approval ", a.id) end   -- else: asked before, a.status says where it is
//   for _, a in ipairs(approvals.list{kind = "update", status = "APPROVED"}) do
//     local ok, err = deploy(a.payload)
//     if ok then approvals.mark_executed(a.id, "deployed") else approvals.mark_failed(a.id, err) end
//   end
//   local one = approvals.get(7)                                   -- nil when there is none
//
// An approval is a table {id, job, kind, key, title, payload, status, requested_at, decided_by,
// decided_at, executed_at, closed_at, notes, group, superseded_by}; status is PENDING,
// APPROVED, EXECUTED, FAILED or SUPERSEDED; times are RFC 3339 strings in UTC
// ("2026-05-01T10:00:00+00:00"); absent values are nil. request returns the open (PENDING or
// APPROVED) approval with the same kind and key if there is one, with created = false, so a
// job may ask on every run; after one is cancelled (deleted) it asks anew. once = true: an
// EXECUTED approval with the same kind and key is the answer too (looked up in the same
// statement as the insert, so no check can slip in between). group: approving this one
// supersedes the older open approvals of the same kind and group (SUPERSEDED, superseded_by
// set). People approve and cancel with `cronhost approvals`. request's notify field is
// reserved (accepted, ignored for now). list takes kind, key, job, status and limit (default
// 100), newest first. mark_superseded closes an APPROVED approval that another made moot.
//
// Bad arguments raise; a failing state file or a wrong status (marking a PENDING approval)
// returns nil, err. In a dry run reads are real, and request and mark_* are captured and
// return what would result, writing nothing: request gives the existing approval or a
// PENDING one with id 0 and dry_run = true.
//
// Approvals belong to the job that asked: request finds only this job's own; list, get and
// mark_* reach its own and those of the jobs named in allow.approvals ({"version-check"}, or
// {"*"} for all). get answers nil and mark_* "no approval 7 ..." for any other job's, and
// list{job = "other"} raises unless other is named.
#include <nlohmann/json.hpp>

#include "api/permissions.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"
#include "store/state_store.hpp"
#include "util/clock.hpp"

namespace cronhost::bindings {
namespace {

// An approval is read by people (the CLI table, a dashboard) and carried by every event about
// it; these keep it to something a person reads.
constexpr size_t kMaxNameBytes = 256;  // kind, key
constexpr size_t kMaxTitleBytes = 1024;
constexpr size_t kMaxPayloadBytes = 64 << 10;
constexpr int kMaxListLimit = 1000;

store::Store& check_store(lua_State* L, const char* function) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  if (!ctx.store) raise(L, std::string(function) + ": this run has no state file");
  return *ctx.store;
}

std::string check_text(const TableArgs& args, const char* field, size_t max_bytes) {
  std::string value = *args.string(field, true);
  if (value.empty() || value.size() > max_bytes)
    args.error(std::string("field '") + field + "' must be 1 to " + std::to_string(max_bytes) + " bytes");
  return value;
}

int64_t check_id(lua_State* L) {
  const lua_Integer id = luaL_checkinteger(L, 1);
  if (id < 1) luaL_argerror(L, 1, "an approval id is 1 or more");
  return id;
}

// Secrets must not reach the state file, where people and events read them.
void redact_strings(const run::RunContext& ctx, nlohmann::json& value) {
  if (value.is_string())
    value = ctx.redact(value.get_ref<const std::string&>());
  else if (value.is_structured())
    for (auto& item : value) redact_strings(ctx, item);
}

void push_approval(lua_State* L, const store::Approval& approval) {
  nlohmann::json json = store::approval_to_json(approval);
  for (auto it = json.begin(); it != json.end();)
    it = it->is_null() ? json.erase(it) : std::next(it);  // nil, not json.null
  push_json(L, json);
}

void set_flag(lua_State* L, const char* name, bool value) {
  lua_pushboolean(L, value);
  lua_setfield(L, -2, name);
}

int approvals_request(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  TableArgs args(L, 1, "approvals.request", {"kind", "key", "title", "payload", "notify", "group", "once"});
  const std::string kind = check_text(args, "kind", kMaxNameBytes);
  const std::string key = check_text(args, "key", kMaxNameBytes);
  const std::string group = args.string("group") ? check_text(args, "group", kMaxNameBytes) : "";
  const bool once = args.boolean("once").value_or(false);
  const std::string title = ctx.redact(check_text(args, "title", kMaxTitleBytes));
  nlohmann::json payload = nlohmann::json::object();
  if (args.push("payload") != LUA_TNIL) {
    std::string error;
    if (!to_json(L, -1, payload, error)) args.error("field 'payload': " + error);
  }
  lua_pop(L, 1);
  redact_strings(ctx, payload);
  const std::string payload_json = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (payload_json.size() > kMaxPayloadBytes) args.error("field 'payload' is larger than 64 KiB as JSON");
  store::Store& store = check_store(L, "approvals.request");

  if (!ctx.effects.live()) {
    auto open = store.approval_open(ctx.job.name, kind, key);
    if (!open) return fail(L, "approvals.request: " + open.message());
    if (once && !*open) {
      auto executed = store.approvals(
          {.kind = kind, .key = key, .job = ctx.job.name, .status = store::ApprovalStatus::kExecuted, .limit = 1});
      if (!executed) return fail(L, "approvals.request: " + executed.message());
      if (!executed->empty()) open.value() = executed->front();
    }
    const std::string state =
        *open ? "(exists: " + std::to_string((*open)->id) + " " + std::string(store::to_string((*open)->status)) + ")"
              : "(new)";
    ctx.effects.capture({"approvals",
                         ctx.redact("request " + kind + "/" + key + " \"" + title + "\" " + state),
                         {{"kind", kind}, {"key", key}, {"title", title}, {"payload", payload}}});
    if (*open) {
      push_approval(L, **open);
      set_flag(L, "created", false);
      return 1;
    }
    store::Approval would_be{.id = 0,
                             .job = ctx.job.name,
                             .kind = kind,
                             .key = key,
                             .title = title,
                             .payload_json = payload_json,
                             .requested_at = now_ms(),
                             .group = group};
    push_approval(L, would_be);
    set_flag(L, "created", true);
    set_flag(L, "dry_run", true);
    return 1;
  }
  auto requested = store.approval_request(
      {.job = ctx.job.name, .kind = kind, .key = key, .title = title, .payload_json = payload_json, .group = group, .once = once},
      now_ms());
  if (!requested) return fail(L, "approvals.request: " + requested.message());
  push_approval(L, requested->approval);
  set_flag(L, "created", requested->created);
  return 1;
}

int approvals_list(lua_State* L) {
  const config::JobSpec& job = run::LuaSandbox::context(L).job;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  TableArgs args(L, 1, "approvals.list", {"kind", "key", "job", "status", "limit"});
  store::ApprovalQuery query;
  query.kind = args.string("kind").value_or("");
  query.key = args.string("key").value_or("");
  query.job = args.string("job").value_or("");
  if (!query.job.empty() && !api::may_use_approvals_of(job, query.job))
    args.error("field 'job': job " + job.name + " may not see the approvals of job '" + query.job +
               "' (name it in allow.approvals)");
  if (query.job.empty()) query.jobs = api::approval_owners(job);
  if (auto status = args.string("status")) {
    query.status = store::parse_approval_status(*status);
    if (!query.status)
      args.error("field 'status' must be one of PENDING, APPROVED, EXECUTED, FAILED, SUPERSEDED (got '" + *status + "')");
  }
  if (auto limit = args.number("limit")) {
    if (!(*limit >= 1 && *limit <= kMaxListLimit)) args.error("field 'limit' must be from 1 to 1000");
    query.limit = static_cast<int>(*limit);
  }
  auto found = check_store(L, "approvals.list").approvals(query);
  if (!found) return fail(L, "approvals.list: " + found.message());
  lua_createtable(L, static_cast<int>(found->size()), 0);
  for (size_t i = 0; i < found->size(); ++i) {
    push_approval(L, (*found)[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int approvals_get(lua_State* L) {
  const int64_t id = check_id(L);
  auto found = check_store(L, "approvals.get").approval(id);
  if (!found) return fail(L, "approvals.get: " + found.message());
  if (!found.value() || !api::may_use_approvals_of(run::LuaSandbox::context(L).job, (*found)->job)) {
    lua_pushnil(L);
    return 1;
  }
  push_approval(L, **found);
  return 1;
}

// approvals.mark_executed / mark_failed / mark_superseded (id, notes): true, or nil, err.
template <store::ApprovalStatus kOutcome>
int approvals_mark(lua_State* L) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  const std::string function = kOutcome == store::ApprovalStatus::kExecuted ? "approvals.mark_executed"
                               : kOutcome == store::ApprovalStatus::kFailed ? "approvals.mark_failed"
                                                                            : "approvals.mark_superseded";
  const int64_t id = check_id(L);
  size_t len = 0;
  const char* text = luaL_optlstring(L, 2, "", &len);
  const std::string notes = ctx.redact(std::string_view(text, len));
  store::Store& store = check_store(L, function.c_str());
  const std::string outcome(store::to_string(kOutcome));

  // Another job's approval is answered as a missing one: its existence is not this job's to know.
  // An approval's job never changes, so the check holds for the mark that follows.
  auto found = store.approval(id);
  if (!found) return fail(L, function + ": " + found.message());
  if (!found.value() || !api::may_use_approvals_of(ctx.job, (*found)->job))
    return fail(L, function + ": no approval " + std::to_string(id) + " of job " + ctx.job.name +
                       " or of the jobs in its allow.approvals");

  if (!ctx.effects.live()) {
    // What the live call would answer, from the real record.
    if ((*found)->status != store::ApprovalStatus::kApproved)
      return fail(L, function + ": approval " + std::to_string(id) + " is " +
                         std::string(store::to_string((*found)->status)) +
                         "; only an APPROVED approval can be marked " + outcome);
    ctx.effects.capture({"approvals",
                         "mark " + std::to_string(id) + " " + outcome + (notes.empty() ? "" : ": " + notes),
                         {{"id", id}, {"status", outcome}, {"notes", notes}}});
    lua_pushboolean(L, 1);
    return 1;
  }
  auto marked = store.approval_mark(id, kOutcome, notes, now_ms());
  if (!marked) return fail(L, function + ": " + marked.message());
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg kApprovalsFunctions[] = {{"request", guarded<approvals_request>},
                                        {"list", guarded<approvals_list>},
                                        {"get", guarded<approvals_get>},
                                        {"mark_executed", guarded<approvals_mark<store::ApprovalStatus::kExecuted>>},
                                        {"mark_failed", guarded<approvals_mark<store::ApprovalStatus::kFailed>>},
                                        {"mark_superseded", guarded<approvals_mark<store::ApprovalStatus::kSuperseded>>},
                                        {nullptr, nullptr}};

}  // namespace

void open_approvals(lua_State* L) {
  luaL_newlib(L, kApprovalsFunctions);
  lua_setglobal(L, "approvals");
}

}  // namespace cronhost::bindings
