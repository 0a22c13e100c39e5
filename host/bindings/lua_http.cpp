// http: requests to the URLs the job allows (allow.http).
//
//   local r, err = http.get("https://api.example.com/v1/items", {headers = {Accept = "application/json"}})
//   if not r then error(err) end          -- no response: refused, DNS, TLS, timeout, too large
//   if r.ok then local items = r:json() end   -- r.status, r.headers (lower-case names), r.body, r.url
//   http.post(url, {json = {version = "1.2.0"}})
//   http.request{method = "PUT", url = url, body = "text", headers = {...}, timeout = 10}
//
// Every HTTP status is a response (check r.ok or r.status); nil, err only when none arrived,
// or when a header may not be sent (a control character, Host, a hop-by-hop header).
// A URL outside allow.http or a bad argument raises. In a dry run GET and HEAD are performed
// and other methods are captured, answering 200 with r.dry_run = true.
//
// This file only converts between Lua and api/run_http, which plugins use too.
#include <nlohmann/json.hpp>

#include "api/call_fields.hpp"
#include "api/run_http.hpp"
#include "bindings/lua_args.hpp"
#include "bindings/lua_values.hpp"
#include "bindings/open_all.hpp"
#include "run/lua_sandbox.hpp"

namespace cronhost::bindings {
namespace {

const std::vector<std::string> kRequestFields = {"method", "url", "headers", "body", "json", "timeout", "max_bytes"};

api::HttpRequest read_request(lua_State* L, const TableArgs& args) {
  api::HttpRequest request;
  api::HttpRequestFields fields;
  api::read_http_fields(args, request, fields);
  if (args.push("json") != LUA_TNIL) {
    nlohmann::json value;
    std::string error;
    if (!to_json(L, -1, value, error)) args.error("field 'json': " + error);
    fields.json_body = value.dump();
  }
  lua_pop(L, 1);
  fields.timeout = args.number("timeout");
  fields.max_bytes = args.number("max_bytes");
  if (auto applied = fields.apply(request); !applied) args.error(applied.message());
  return request;
}

int response_json(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "body");
  size_t len = 0;
  const char* body = lua_tolstring(L, -1, &len);
  std::string error;  // decoded into Lua values, under the run's memory cap (a body may be 16 MiB)
  if (!push_decoded_json(L, body ? std::string_view(body, len) : std::string_view(), error))
    return fail(L, "the response body is not JSON");
  return 1;
}

void push_response(lua_State* L, const api::HttpResponse& response, bool dry_run) {
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, response.status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, response.status >= 200 && response.status < 300);
  lua_setfield(L, -2, "ok");
  lua_createtable(L, 0, static_cast<int>(response.headers.size()));
  for (const auto& [name, value] : response.headers) {  // repeated headers are joined, as HTTP allows
    if (lua_getfield(L, -1, name.c_str()) == LUA_TSTRING) {
      const std::string joined = std::string(lua_tostring(L, -1)) + ", " + value;
      lua_pop(L, 1);
      lua_pushstring(L, joined.c_str());
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, value.data(), value.size());
    }
    lua_setfield(L, -2, name.c_str());
  }
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, response.body.data(), response.body.size());
  lua_setfield(L, -2, "body");
  lua_pushstring(L, response.url.c_str());
  lua_setfield(L, -2, "url");
  lua_pushcfunction(L, response_json);
  lua_setfield(L, -2, "json");
  if (dry_run) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
}

int perform(lua_State* L, api::HttpRequest request) {
  run::RunContext& ctx = run::LuaSandbox::context(L);
  api::RunHttp http(ctx.job, ctx.effects, ctx.redactor, [&ctx]() -> api::HttpClient& { return ctx.http(); });
  auto url = http.check(request);
  if (!url) raise(L, url.message());
  auto answer = http.perform(std::move(request), *url);
  run::LuaSandbox::check_stop(L);
  if (!answer) return fail(L, answer.message());
  push_response(L, answer->response, answer->dry_run);
  return 1;
}

int http_request(lua_State* L) {
  TableArgs args(L, 1, "http.request", kRequestFields);
  return perform(L, read_request(L, args));
}

// http.get(url, options) and friends: the URL first, the rest of the request as options.
template <const char* kMethod>
int http_shorthand(lua_State* L) {
  const std::string name = std::string("http.") + kMethod;
  if (lua_type(L, 1) != LUA_TSTRING) raise(L, name + ": the first argument must be the URL (a string)");
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  TableArgs options(L, 2, name, {"headers", "body", "json", "timeout", "max_bytes"});
  lua_newtable(L);  // a copy, so the caller's table is left as it was
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, 3);
  }
  lua_pushvalue(L, 1);
  lua_setfield(L, 3, "url");
  lua_pushstring(L, kMethod);
  lua_setfield(L, 3, "method");
  return perform(L, read_request(L, TableArgs(L, 3, name, kRequestFields)));
}

constexpr char kGet[] = "GET";
constexpr char kPost[] = "POST";
constexpr char kPut[] = "PUT";
constexpr char kDelete[] = "DELETE";

const luaL_Reg kHttpFunctions[] = {{"request", guarded<http_request>},
                                   {"get", guarded<http_shorthand<kGet>>},
                                   {"post", guarded<http_shorthand<kPost>>},
                                   {"put", guarded<http_shorthand<kPut>>},
                                   {"delete", guarded<http_shorthand<kDelete>>},
                                   {nullptr, nullptr}};

}  // namespace

void open_http(lua_State* L) {
  luaL_newlib(L, kHttpFunctions);
  lua_setglobal(L, "http");
}

}  // namespace cronhost::bindings
