#include "plugin/host_calls.hpp"

#include <algorithm>

#include "api/approvals.hpp"
#include "api/call_fields.hpp"
#include "api/mail_request.hpp"
#include "api/run_http.hpp"
#include "api/run_registry.hpp"
#include "plugin/json_args.hpp"
#include "plugin/json_reply.hpp"

namespace cronhost::plugin {

HostCalls::~HostCalls() {
  for (const auto& [name, conn] : connections_) ctx_.databases().close(conn);
}

Reply HostCalls::serve(const Call& call) {
  // Past the deadline or cancelled, nothing more is done for the run: plugin.h's ESTOP.
  if (ctx_.note_stop()) return stopped();
  try {
    return dispatch(call);
  } catch (const ArgumentError& e) {
    return misuse(e.what());
  }
}

Reply HostCalls::dispatch(const Call& call) {
  switch (call.op) {
    case Op::kStateGet: return state_get(call);
    case Op::kStatePut: return state_put(call);
    case Op::kStateDelete: return state_delete(call);
    case Op::kHttp: return http(call);
    case Op::kMail: return mail(call);
    case Op::kDbQuery: return db_query(call);
    case Op::kDbExec: return db_exec(call);
    case Op::kDbBackup: return db_backup(call);
    case Op::kDbDump: return db_dump(call);
    case Op::kStorage: return storage(call);
    case Op::kFiles: return files(call);
    case Op::kRegistryTags: return registry_tags(call);
    case Op::kRegistryLatest: return registry_latest(call);
    case Op::kApprovals: return approvals(call);
    default: return Reply::error(CRONHOST_EINVAL, std::string(op_name(call.op)) + " is not a host capability");
  }
}

Reply HostCalls::stopped() {
  ctx_.note_stop();
  return Reply::error(CRONHOST_ESTOP, ctx_.redact(run::stopped_result(ctx_).error));
}

Reply HostCalls::misuse(const std::string& message) {
  if (ctx_.note_stop()) return stopped();
  std::string text = ctx_.redact(message);
  // Denials all end in the allow: key that would grant them, e.g. "(allow.http)".
  const int code = text.find("(allow.") != std::string::npos ? CRONHOST_EDENIED : CRONHOST_EINVAL;
  return Reply::error(code, std::move(text));
}

Reply HostCalls::failed(const std::string& message) {
  if (ctx_.note_stop()) return stopped();
  return Reply::error(CRONHOST_EFAILED, ctx_.redact(message));
}

// state: the job's key-value store (api/run_kv), values as JSON text.

namespace {

std::string checked_key(const std::string& function, const std::string& key) {
  if (auto ok = api::RunKv::check_key(key); !ok) throw ArgumentError(function + ": " + ok.message());
  return key;
}

}  // namespace

Reply HostCalls::state_get(const Call& call) {
  auto value = ctx_.kv.get(checked_key("state_get", call.a));
  if (!value) return failed("state.get: " + value.message());
  return Reply::ok(value.value() ? **value : "null");
}

Reply HostCalls::state_put(const Call& call) {
  const std::string key = checked_key("state_put", call.a);
  auto value = parse_json_arg(call.b, "state_put: the value");
  if (!value) throw ArgumentError("state_put: the value is empty: give JSON text such as null");
  const std::string text = value->dump();
  if (auto ok = api::RunKv::check_value(text); !ok) throw ArgumentError("state_put: " + ok.message());
  if (auto status = ctx_.kv.put(key, text); !status) return failed("state.put: " + status.message());
  return Reply::ok("true");
}

Reply HostCalls::state_delete(const Call& call) {
  if (auto status = ctx_.kv.erase(checked_key("state_delete", call.a)); !status) return failed("state.delete: " + status.message());
  return Reply::ok("true");
}

// http: api/run_http. The response as http.request's table, without its json method.
Reply HostCalls::http(const Call& call) {
  JsonArgs args(call.a, "http_request: the request", "http.request",
                {"method", "url", "headers", "body", "json", "timeout", "max_bytes"});
  api::HttpRequest request;
  api::HttpRequestFields fields;
  api::read_http_fields(args, request, fields);
  if (const nlohmann::json* json = args.get("json")) fields.json_body = json->dump();
  fields.timeout = args.number("timeout");
  fields.max_bytes = args.number("max_bytes");
  if (auto applied = fields.apply(request); !applied) args.error(applied.message());

  api::RunHttp run_http(ctx_.job, ctx_.effects, ctx_.redactor, [this]() -> api::HttpClient& { return ctx_.http(); });
  auto url = run_http.check(request);
  if (!url) return misuse(url.message());
  auto answer = run_http.perform(std::move(request), *url);
  if (!answer) return failed(answer.message());
  const api::HttpResponse& response = answer->response;
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : response.headers) {  // repeated headers are joined, as HTTP allows
    auto& slot = headers[name];
    slot = slot.is_string() ? slot.get<std::string>() + ", " + value : value;
  }
  nlohmann::json out = {{"status", response.status},
                        {"ok", response.status >= 200 && response.status < 300},
                        {"headers", std::move(headers)},
                        {"body", response.body},
                        {"url", response.url}};
  if (answer->dry_run) out["dry_run"] = true;
  return json_reply(out);
}

// mail: api/mail_request and api/mail_send.
Reply HostCalls::mail(const Call& call) {
  if (auto configured = ctx_.mail().check_configured(); !configured) return misuse("mail.send: " + configured.message());
  JsonArgs args(call.a, "mail_send: the message", "mail.send", {"to", "cc", "bcc", "subject", "text", "html", "attachments"});
  api::MailRequest request;
  api::read_mail_fields(args, request);
  if (const nlohmann::json* list = args.get("attachments")) {
    if (!list->is_array() && !(list->is_object() && list->empty()))
      args.error("field 'attachments' must be a list of {path=...} or {name=, content=, type=}");
    for (size_t i = 0; i < list->size(); ++i) {
      JsonArgs item((*list)[i].dump(), "mail_send: an attachment", "mail.send attachment " + std::to_string(i + 1),
                    {"path", "name", "content", "type"});
      request.attachments.push_back({item.string("path"), item.string("name"), item.string("content"), item.string("type")});
    }
  }
  auto prepared = api::prepare_mail(ctx_.job, ctx_.effects, ctx_.mail(), request);
  if (!prepared) return call_failed(prepared);
  auto sent = ctx_.mail().send(prepared->message, prepared->sizes);
  if (!sent) return failed("mail.send: " + sent.message());
  if (sent->stopped) return stopped();
  nlohmann::json out = {{"message_id", sent->message_id}};
  if (sent->dry_run) out["dry_run"] = true;
  if (sent->sent) out["sent"] = true;
  if (sent->queued) {
    out["queued"] = true;
    out["error"] = sent->error;
  }
  return json_reply(out);
}

// registry: api/run_registry.
Reply HostCalls::registry_tags(const Call& call) {
  api::RunRegistry registry(ctx_.job, ctx_.effects, [this]() -> api::RegistryClient& { return ctx_.registry(); });
  auto tags = registry.tags("registry.tags", call.a);
  if (!tags) return call_failed(tags);
  return json_reply(nlohmann::json(tags.value()));
}

Reply HostCalls::registry_latest(const Call& call) {
  JsonArgs args(call.b, "registry_latest: the options", "registry.latest", {"prerelease", "constraint"});
  api::LatestOptions options;
  options.prerelease = args.boolean("prerelease").value_or(false);
  options.constraint = args.string("constraint");
  if (auto checked = api::RunRegistry::check_latest(options); !checked) args.error(checked.message());
  api::RunRegistry registry(ctx_.job, ctx_.effects, [this]() -> api::RegistryClient& { return ctx_.registry(); });
  auto best = registry.latest(call.a, options);
  if (!best) return call_failed(best);
  return Reply::ok(best.value());
}

// approvals: api/approvals. An approval as the Lua API's table: absent values left out.
namespace {

nlohmann::json approval_json(const store::Approval& approval) {
  nlohmann::json json = store::approval_to_json(approval);
  for (auto it = json.begin(); it != json.end();) it = it->is_null() ? json.erase(it) : std::next(it);
  return json;
}

int64_t approval_id(const JsonArgs& args) {
  const auto id = args.integer("id");
  if (!id) args.error("field 'id' is required");
  if (*id < 1) args.error("an approval id is 1 or more");
  return *id;
}

}  // namespace

Reply HostCalls::approvals(const Call& call) {
  static const std::vector<std::string> kOps = {"get", "list", "mark_executed", "mark_failed", "mark_superseded", "request"};
  const std::string& op = call.a;
  if (std::find(kOps.begin(), kOps.end(), op) == kOps.end())
    throw ArgumentError("approvals: unknown operation '" + op + "' (one of get, list, mark_executed, mark_failed, mark_superseded, request)");
  api::RunApprovals& approvals = ctx_.approvals();
  const std::string function = "approvals." + op;
  const auto no_store = [&] { return misuse(function + ": " + api::RunApprovals::kNoStateFile); };

  if (op == "request") {
    JsonArgs args(call.b, "approvals: the arguments", function, {"kind", "key", "title", "payload", "notify", "group", "once"});
    api::ApprovalAskArgs given = api::read_ask_fields(args);
    if (const nlohmann::json* payload = args.get("payload")) given.payload = *payload;
    auto ask = approvals.check_request(given);
    if (!ask) args.error(ask.message());
    if (!approvals.has_store()) return no_store();
    auto answer = approvals.request(*ask);
    if (!answer) return failed(function + ": " + answer.message());
    nlohmann::json out = approval_json(answer->approval);
    out["created"] = answer->created;
    if (answer->dry_run) out["dry_run"] = true;
    return json_reply(out);
  }
  if (op == "list") {
    JsonArgs args(call.b, "approvals: the arguments", function, {"kind", "key", "job", "status", "limit"});
    api::ApprovalListArgs given{.kind = args.string("kind").value_or(""),
                                .key = args.string("key").value_or(""),
                                .job = args.string("job").value_or(""),
                                .status = args.string("status"),
                                .limit = args.number("limit")};
    auto query = approvals.check_list(given);
    if (!query) args.error(query.message());
    if (!approvals.has_store()) return no_store();
    auto found = approvals.list(*query);
    if (!found) return failed(function + ": " + found.message());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& approval : found.value()) out.push_back(approval_json(approval));
    return json_reply(out);
  }
  JsonArgs args(call.b, "approvals: the arguments", function);
  const int64_t id = approval_id(args);
  if (!approvals.has_store()) return no_store();
  if (op == "get") {
    auto found = approvals.get(id);
    if (!found) return failed(function + ": " + found.message());
    return found.value() ? json_reply(approval_json(**found)) : Reply::ok("null");
  }
  const store::ApprovalStatus outcome = op == "mark_executed" ? store::ApprovalStatus::kExecuted
                                        : op == "mark_failed" ? store::ApprovalStatus::kFailed
                                                              : store::ApprovalStatus::kSuperseded;
  auto marked = approvals.mark(id, outcome, args.string("notes").value_or(""));
  if (!marked) return failed(function + ": " + marked.message());
  return Reply::ok("true");
}

}  // namespace cronhost::plugin
