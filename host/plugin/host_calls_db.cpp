// HostCalls' db calls: db_query, db_exec, db_backup and db_dump over api/db_sessions,
// api/db_connection and api/db_dump, the code conn:query and db.dump run.
#include "api/beneath.hpp"
#include "api/call_fields.hpp"
#include "api/db_dump.hpp"
#include "plugin/host_calls.hpp"
#include "plugin/json_args.hpp"
#include "plugin/json_reply.hpp"
#include "util/printable.hpp"

namespace cronhost::plugin {
namespace {

// The JSON array of values for the statement's placeholders; "" is none.
std::vector<api::DbValue> bound_values(const std::string& text, const std::string& caller) {
  std::vector<api::DbValue> values;
  auto parsed = parse_json_arg(text, "db: the parameters");
  if (!parsed || (parsed->is_object() && parsed->empty())) return values;
  if (!parsed->is_array()) throw ArgumentError("db: the parameters must be a JSON array");
  for (size_t i = 0; i < parsed->size(); ++i) {
    const nlohmann::json& value = (*parsed)[i];
    if (value.is_null()) values.emplace_back(nullptr);
    else if (value.is_boolean()) values.emplace_back(value.get<bool>());
    else if (value.is_number_integer()) values.emplace_back(value.get<int64_t>());
    else if (value.is_number()) values.emplace_back(value.get<double>());
    else if (value.is_string()) values.emplace_back(value.get<std::string>());
    else
      throw ArgumentError(caller + ": value " + std::to_string(i + 1) +
                          " must be nil, a boolean, a number or a string (got table)");
  }
  return values;
}

nlohmann::json json_value(const api::DbValue& value) {
  struct Visit {
    nlohmann::json operator()(std::nullptr_t) const { return nullptr; }
    nlohmann::json operator()(bool b) const { return b; }
    nlohmann::json operator()(int64_t i) const { return i; }
    nlohmann::json operator()(double d) const { return d; }
    nlohmann::json operator()(const std::string& s) const { return s; }
    nlohmann::json operator()(const api::DbBytes& b) const { return b.data; }  // as Lua has them: text if UTF-8
  };
  return std::visit(Visit{}, value);
}

}  // namespace

template <typename T>
Reply HostCalls::db_failed(const api::DbResult<T>& result) {
  if (result.fault() != api::DbFault::kServer) return misuse(result.message());
  return failed(result.message());
}

api::DbResult<api::DbConnection*> HostCalls::connection(const std::string& name) {
  if (auto it = connections_.find(name); it != connections_.end()) return it->second;
  auto opened = ctx_.databases().open(name);
  if (opened) connections_.emplace(name, opened.value());
  return opened;
}

Reply HostCalls::db_query(const Call& call) {
  auto conn = connection(call.a);
  if (!conn) return db_failed(conn);
  auto rows = conn.value()->query("conn:query", call.b, bound_values(call.c, "conn:query"));
  if (!rows) return db_failed(rows);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows->rows) {
    nlohmann::json object = nlohmann::json::object();
    for (size_t i = 0; i < rows->columns.size(); ++i) object[rows->columns[i]] = json_value(row[i]);
    out.push_back(std::move(object));
  }
  return json_reply(out);
}

Reply HostCalls::db_exec(const Call& call) {
  auto conn = connection(call.a);
  if (!conn) return db_failed(conn);
  auto changes = conn.value()->exec("conn:exec", call.b, bound_values(call.c, "conn:exec"));
  if (!changes) return db_failed(changes);
  return Reply::ok(std::to_string(changes.value()));
}

Reply HostCalls::db_backup(const Call& call) {
  auto conn = connection(call.a);
  if (!conn) return db_failed(conn);
  auto located = api::AllowedPath::locate(ctx_.job, call.b);
  if (!located) return misuse(located.message());
  auto copy = conn.value()->backup(located.value());
  if (!copy) return db_failed(copy);
  nlohmann::json out = {{"bytes", copy->bytes}, {"pages", copy->pages}};
  if (copy->dry_run) out["dry_run"] = true;
  return json_reply(out);
}

// b: {"path","format","gzip"} -> db.dump's table: {path, bytes, duration_ms, tables?, engine, dry_run?}.
Reply HostCalls::db_dump(const Call& call) {
  JsonArgs args(call.b, "db_dump: the options", "db.dump", {"path", "format", "gzip"});
  const api::DumpOptions options = api::read_dump_options(args);
  auto dumped = api::dump_database(ctx_.job, ctx_.host,
                                   api::DbRunScope{&ctx_.effects, &ctx_.redactor, ctx_.deadline, [this] { return ctx_.cancelled(); }},
                                   call.a, options);
  if (!dumped) return db_failed(dumped);
  nlohmann::json out = {{"path", dumped->path.string()},
                        {"bytes", dumped->bytes},
                        {"duration_ms", dumped->duration_ms},
                        {"engine", dumped->engine}};
  if (dumped->tables) out["tables"] = *dumped->tables;
  if (dumped->dry_run) out["dry_run"] = true;
  return json_reply(out);
}

}  // namespace cronhost::plugin
