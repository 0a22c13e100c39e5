// The API modules, and the standard libraries but base and string, open when a script first
// names one; a script must not be able to tell, except by rawget before that first use.
#include <catch2/catch.hpp>

#include "../support/lua_harness.hpp"

using namespace cronhost;
using store::RunStatus;
using test::Harness;

TEST_CASE("a walk of the globals finds every API module", "[lua][modules]") {
  Harness h;
  auto r = h.run(R"~(
    local found = {}
    for name, value in pairs(_G) do found[#found + 1] = name .. ":" .. type(value) end
    table.sort(found)
    return table.concat(found, " "))~");
  REQUIRE(r.status == RunStatus::kSucceeded);
  for (const char* module : {"approvals:table", "db:table", "files:table", "host:table", "http:table", "job:table",
                             "json:table", "log:table", "mail:table", "registry:table", "semver:table",
                             "state:table", "storage:table", "print:function", "require:function",
                             "sleep:function", "string:table", "table:table", "math:table", "utf8:table",
                             "coroutine:table", "os:table"}) {
    INFO(module);
    CHECK(r.result.find(module) != std::string::npos);
  }
}

TEST_CASE("modules open on first use, in coroutines and under the script's own metatable", "[lua][modules]") {
  Harness h;
  CHECK(h.run("local before = rawget(_G, 'http') local m = http return {before == nil, rawget(_G, 'http') == m}")
            .result == "[true,true]");
  CHECK(h.run("return coroutine.wrap(function() return job.name end)()").result == "\"test-job\"");
  CHECK(h.run("return undefined_name == nil and type(semver.compare)").result == "\"function\"");
  CHECK(h.run("http = 5 return http").result == "5");
  // A strict-mode metatable replaces the one that opens modules: they are all open first.
  auto strict = h.run(R"~(
    setmetatable(_G, {__index = function(_, name) error("undefined global " .. name, 2) end})
    local ok, err = pcall(function() return undefined_name end)
    return {type(json.encode), type(state.get), ok, err})~");
  CHECK(strict.status == RunStatus::kSucceeded);
  CHECK(strict.result == R"(["function","function",false,"job.lua:3: undefined global undefined_name"])");
  // The wrapper hands over to the guarded setmetatable: a finalizer is still refused on _G.
  auto gc = h.run("setmetatable(_G, {__gc = function() while true do end end})");
  CHECK(gc.status == RunStatus::kFailed);
  CHECK(gc.error.find("a metatable with __gc is not allowed") != std::string::npos);
}

TEST_CASE("JSON null in the job table is json.null before json is first named", "[lua][modules]") {
  Harness h;
  auto r = h.run("local v = job.params.x return {v ~= nil, v == json.null, json.encode(job.params)}",
                 std::chrono::seconds(5), {}, nlohmann::json{{"x", nullptr}});
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.result == R"([true,true,"{\"x\":null}"])");
}

TEST_CASE("the read-only job table encodes as what it shows", "[lua][modules]") {
  Harness h;
  const nlohmann::json params = {{"image", "ghcr.io/acme/app"}, {"keep", {1, 2}}, {"nested", {{"a", true}}}};
  // Before, json.encode and a returned job.params saw the empty proxy: "{}".
  CHECK(h.run("return job.params", std::chrono::seconds(5), {}, params).result == params.dump());
  CHECK(h.run("return json.encode(job.params.keep)", std::chrono::seconds(5), {}, params).result == "\"[1,2]\"");
  // pairs() over it does not depend on the script's own `next`.
  CHECK(h.run("next = nil local n = 0 for _ in pairs(job.params) do n = n + 1 end return n", std::chrono::seconds(5),
              {}, params)
            .result == "3");
}

// Opening them was half of a trivial run's cost (README, performance).
TEST_CASE("the standard libraries but base and string open on first use, trimmed and guarded as ever", "[lua][modules]") {
  Harness h;
  CHECK(h.run(R"~(
    local unopened = {}
    for _, name in ipairs({"table", "math", "utf8", "coroutine", "os"}) do
      if rawget(_G, name) == nil then unopened[#unopened + 1] = name end
    end
    return {unopened, rawget(_G, "string") ~= nil, ("ab"):upper(), "10" + 1})~")
            .result == R"([["table","math","utf8","coroutine","os"],true,"AB",11])");
  CHECK(h.run("local m = math return {m == math, rawget(_G, 'math') == m, math.floor(2.5), math.pi > 3}").result ==
        "[true,true,2,true]");
  CHECK(h.run("return {os.execute == nil, os.getenv == nil, os.exit == nil, type(os.time), os.date('!%Y', 0)}").result ==
        R"([true,true,true,"function","1970"])");
  CHECK(h.run("return coroutine.wrap(function() return utf8.char(72, 105) end)()").result == "\"Hi\"");
  // Under a strict-mode metatable every library is there (all opened before it took over).
  auto strict = h.run(R"~(
    setmetatable(_G, {__index = function(_, name) error("undefined global " .. name, 2) end})
    return {table.concat({1, 2}, ","), math.max(1, 3), type(coroutine.wrap), os.time() > 0})~");
  CHECK(strict.status == RunStatus::kSucceeded);
  CHECK(strict.result == R"(["1,2",3,"function",true])");
  // The table library's guards come with it: a move it opened for stops at the deadline.
  auto move = h.run("return #table.move({}, 1, 1 << 40, 1)", std::chrono::milliseconds(300));
  CHECK(move.status == RunStatus::kTimedOut);
  CHECK(move.took < std::chrono::seconds(2));
}

// The opener is the globals' metatable until a script looks at it: had a script held it, it
// could have set __newindex and taken the stock table.move as the library was published, or
// called __index or __pairs with a number for a table (a crash of the host).
TEST_CASE("a script never holds the globals' opener, so it can neither steal a library before its guards nor call it", "[lua][modules]") {
  Harness h;
  CHECK(h.run("local mt = getmetatable(_G) return {mt == nil, rawget(_G, 'table') ~= nil, rawget(_G, 'http') ~= nil}")
            .result == "[true,true,true]");
  // The way in the review found: a __newindex on the opener, seeing the table library as it
  // was published, before its guards.
  auto steal = h.run(R"~(
    local stolen
    local mt = getmetatable(_G)
    if mt then mt.__newindex = function(t, k, v) stolen = v rawset(t, k, v) end end
    local _ = table
    return stolen == nil)~");
  CHECK(steal.status == RunStatus::kSucceeded);
  CHECK(steal.result == "true");
  auto own = h.run(R"~(
    local stolen
    setmetatable(_G, {__newindex = function(t, k, v) stolen = v rawset(t, k, v) end})
    local _ = table
    return stolen == nil)~");
  CHECK(own.status == RunStatus::kSucceeded);
  CHECK(own.result == "true");
  auto move = h.run(R"~(
    setmetatable(_G, {__newindex = function(t, k, v) rawset(t, k, v) end})
    return #table.move({}, 1, 1 << 40, 1))~",
                    std::chrono::milliseconds(300));
  CHECK(move.status == RunStatus::kTimedOut);
  for (const char* call : {"getmetatable(_G).__pairs(12345)", "getmetatable(_G).__index(1, 'math')"}) {
    INFO(call);
    auto r = h.run(call);
    CHECK(r.status == RunStatus::kFailed);
    CHECK(r.error.find("attempt to index a nil value") != std::string::npos);
  }
}

