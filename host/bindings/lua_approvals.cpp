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

#include "api/approvals.hpp"
#include "api/call_fields.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

api::RunApprovals& check_approvals(lua_State* L, const std::string& function) {
  api::RunApprovals& approvals = run::LuaSandbox::context(L).approvals();
  if (!approvals.has_store()) raise(L, function + ": " + api::RunApprovals::kNoStateFile);
  return approvals;
}

int64_t check_id(lua_State* L) {
  const lua_Integer id = luaL_checkinteger(L, 1);
  if (id < 1) luaL_argerror(L, 1, "an approval id is 1 or more");
  return id;
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
  TableArgs args(L, 1, "approvals.request", {"kind", "key", "title", "payload", "notify", "group", "once"});
  api::ApprovalAskArgs given = api::read_ask_fields(args);
  if (args.push("payload") != LUA_TNIL) {
    std::string error;
    if (!to_json(L, -1, given.payload, error)) args.error("field 'payload': " + error);
  }
  lua_pop(L, 1);
  api::RunApprovals& approvals = run::LuaSandbox::context(L).approvals();
  auto ask = approvals.check_request(given);
  if (!ask) args.error(ask.message());
  check_approvals(L, "approvals.request");
  auto answer = approvals.request(*ask);
  if (!answer) return fail(L, "approvals.request: " + answer.message());
  push_approval(L, answer->approval);
  set_flag(L, "created", answer->created);
  if (answer->dry_run) set_flag(L, "dry_run", true);
  return 1;
}

int approvals_list(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  TableArgs args(L, 1, "approvals.list", {"kind", "key", "job", "status", "limit"});
  api::ApprovalListArgs given{.kind = args.string("kind").value_or(""),
                              .key = args.string("key").value_or(""),
                              .job = args.string("job").value_or(""),
                              .status = args.string("status"),
                              .limit = args.number("limit")};
  auto query = run::LuaSandbox::context(L).approvals().check_list(given);
  if (!query) args.error(query.message());
  auto found = check_approvals(L, "approvals.list").list(*query);
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
  auto found = check_approvals(L, "approvals.get").get(id);
  if (!found) return fail(L, "approvals.get: " + found.message());
  if (!found.value()) {
    lua_pushnil(L);
    return 1;
  }
  push_approval(L, **found);
  return 1;
}

// approvals.mark_executed / mark_failed / mark_superseded (id, notes): true, or nil, err.
template <store::ApprovalStatus kOutcome>
int approvals_mark(lua_State* L) {
  const std::string function = kOutcome == store::ApprovalStatus::kExecuted ? "approvals.mark_executed"
                               : kOutcome == store::ApprovalStatus::kFailed ? "approvals.mark_failed"
                                                                            : "approvals.mark_superseded";
  const int64_t id = check_id(L);
  size_t len = 0;
  const char* notes = luaL_optlstring(L, 2, "", &len);
  auto marked = check_approvals(L, function).mark(id, kOutcome, std::string_view(notes, len));
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
