// HostCalls' storage call: the operation named by a, its arguments as a JSON object in b, over
// api/run_storage, the code storage.* runs. Answers JSON in the Lua call's shapes.
#include <map>

#include "api/call_fields.hpp"
#include "api/run_storage.hpp"
#include "plugin/host_calls.hpp"
#include "plugin/json_args.hpp"
#include "plugin/json_reply.hpp"

namespace cronhost::plugin {

Reply HostCalls::storage(const Call& call) {
  // Each operation's fields, as the Lua call's arguments and options.
  static const std::map<std::string, std::vector<std::string>> kFields = {
      {"put", {"store", "key", "path", "content", "content_type", "metadata"}},
      {"get", {"store", "key", "path"}},
      {"list", {"store", "prefix"}},
      {"delete", {"store", "key"}},
      {"prune", {"store", "prefix", "older_than", "keep"}}};
  const std::string& op = call.a;
  const auto fields = kFields.find(op);
  if (fields == kFields.end())
    throw ArgumentError("storage: unknown operation '" + op + "' (one of delete, get, list, prune, put)");
  const JsonArgs args(call.b, "storage: the arguments", "storage." + op, fields->second);
  const std::string store = *args.string("store", true);
  api::RunStorage storage(ctx_.job, ctx_.host,
                          api::DbRunScope{&ctx_.effects, &ctx_.redactor, ctx_.deadline, [this] { return ctx_.cancelled(); }});
  const auto marked = [](nlohmann::json out, bool dry_run) {
    if (dry_run) out["dry_run"] = true;
    return out;
  };

  if (op == "put") {
    auto put = storage.put(store, *args.string("key", true), api::read_storage_source(args),
                           api::read_storage_put_options(args));
    if (!put) return call_failed(put);
    return json_reply(marked({{"key", put->key}, {"bytes", put->bytes}, {"parts", put->parts}}, put->dry_run));
  }
  if (op == "get") {
    auto got = storage.get(store, *args.string("key", true), *args.string("path", true));
    if (!got) return call_failed(got);
    return json_reply(marked({{"path", got->path}, {"bytes", got->bytes}}, got->dry_run));
  }
  if (op == "list") {
    auto listed = storage.list(store, args.string("prefix").value_or(""));
    if (!listed) return call_failed(listed);
    nlohmann::json out = nlohmann::json::array();
    for (const api::ObjectInfo& object : listed.value())
      out.push_back({{"key", object.key}, {"size", object.size}, {"modified", object.modified}});
    return json_reply(out);
  }
  if (op == "delete") {
    auto removed = storage.remove(store, *args.string("key", true));
    if (!removed) return call_failed(removed);
    return Reply::ok("true");
  }
  auto deleted = storage.prune(store, *args.string("prefix", true), api::read_storage_prune_options(args));
  if (!deleted) return call_failed(deleted);
  return json_reply(nlohmann::json(deleted.value()));
}

}  // namespace cronhost::plugin
